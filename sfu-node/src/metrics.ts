import type { MediaNode } from "./Node";

/**
 * CPU use of the node's mediasoup workers as a fraction of their cores (0–1), measured between two calls.
 * Each reader (the fleet link, /metrics) keeps its own sampler so they do not shorten each other's window.
 */
export class CpuSampler {
  readonly #node: MediaNode;
  #last: { at: number; cpuMsByPid: Map<number, number> } | undefined;

  constructor(node: MediaNode) {
    this.#node = node;
  }

  async sample(): Promise<number> {
    const at = performance.now();
    const cpuMsByPid = await workerCpuMs(this.#node);
    const previous = this.#last;
    this.#last = { at, cpuMsByPid };
    if (!previous || at <= previous.at) return 0;
    let busyMs = 0;
    for (const [pid, ms] of cpuMsByPid) {
      // A replaced worker starts from zero; count only workers seen in both samples.
      const before = previous.cpuMsByPid.get(pid);
      if (before !== undefined) busyMs += Math.max(0, ms - before);
    }
    const capacityMs = (at - previous.at) * Math.max(1, cpuMsByPid.size);
    return Math.min(1, busyMs / capacityMs);
  }
}

async function workerCpuMs(node: MediaNode): Promise<Map<number, number>> {
  const result = new Map<number, number>();
  await Promise.all(
    node.slots.map(async (slot) => {
      if (slot.worker.closed || slot.worker.died) return;
      try {
        const usage = await slot.worker.getResourceUsage();
        result.set(slot.worker.pid, usage.ru_utime + usage.ru_stime);
      } catch {
        // The worker died between the check and the request; the replacement shows up in the next sample.
      }
    }),
  );
  return result;
}

/** Totals over every room of the node. */
export function nodeCounts(node: MediaNode): { rooms: number; peers: number; transports: number; producers: number; consumers: number } {
  const totals = { rooms: node.rooms.size, peers: 0, transports: 0, producers: 0, consumers: 0 };
  for (const room of node.rooms.values()) {
    const counts = room.counts();
    totals.peers += room.peers.size;
    totals.transports += counts.transports;
    totals.producers += counts.producers;
    totals.consumers += counts.consumers;
  }
  return totals;
}

/** The Prometheus text exposition of the node (https://prometheus.io/docs/instrumenting/exposition_formats/). */
export async function renderMetrics(node: MediaNode, sampler: CpuSampler, workerRestarts: number): Promise<string> {
  const [cpuMs, cpuLoad, bitrate, pipes] = await Promise.all([workerCpuMs(node), sampler.sample(), totalBitrate(node), pipesByPeer(node)]);
  const counts = nodeCounts(node);
  const lines: string[] = [];
  const metric = (name: string, type: "gauge" | "counter", help: string, samples: [labels: string, value: number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${Number.isFinite(value) ? value : 0}`);
  };
  const alive = node.slots.filter((slot) => !slot.worker.closed && !slot.worker.died);
  metric("sfu_workers", "gauge", "mediasoup workers running", [["", alive.length]]);
  metric("sfu_worker_restarts_total", "counter", "mediasoup workers replaced after dying", [["", workerRestarts]]);
  metric(
    "sfu_worker_cpu_seconds_total",
    "counter",
    "CPU time used by each mediasoup worker process",
    alive.filter((slot) => cpuMs.has(slot.worker.pid)).map((slot) => [`{worker="${slot.index}"}`, cpuMs.get(slot.worker.pid)! / 1000]),
  );
  metric("sfu_cpu_load", "gauge", "Busy fraction of the workers' cores since the previous scrape (0-1)", [["", cpuLoad]]);
  metric("sfu_rooms", "gauge", "Classes open on this node", [["", counts.rooms]]);
  metric("sfu_peers", "gauge", "Participants connected to this node", [["", counts.peers]]);
  metric("sfu_transports", "gauge", "Transports open", [["", counts.transports]]);
  metric("sfu_producers", "gauge", "Producers open", [["", counts.producers]]);
  metric("sfu_consumers", "gauge", "Consumers open", [["", counts.consumers]]);
  metric("sfu_recv_bitrate_bps", "gauge", "Bitrate received on all transports", [["", bitrate.recv]]);
  metric("sfu_send_bitrate_bps", "gauge", "Bitrate sent on all transports", [["", bitrate.send]]);
  const perPeer = (value: (peer: PeerPipes) => number): [string, number][] =>
    [...pipes].map(([peerNodeId, peer]) => [`{peer_node="${peerNodeId}"}`, value(peer)]);
  metric(
    "sfu_pipe_transports",
    "gauge",
    "Pipe transports to other nodes (one per class and node pair)",
    perPeer((peer) => peer.transports),
  );
  metric(
    "sfu_piped_producers_sent",
    "gauge",
    "Producers of this node sent through pipes to another node",
    perPeer((peer) => peer.sent),
  );
  metric(
    "sfu_piped_producers_received",
    "gauge",
    "Producers of another node received through pipes",
    perPeer((peer) => peer.received),
  );
  metric(
    "sfu_pipe_send_bitrate_bps",
    "gauge",
    "Bitrate sent through pipes to another node",
    perPeer((peer) => peer.sendBitrate),
  );
  metric(
    "sfu_pipe_recv_bitrate_bps",
    "gauge",
    "Bitrate received through pipes from another node",
    perPeer((peer) => peer.recvBitrate),
  );
  return `${lines.join("\n")}\n`;
}

async function totalBitrate(node: MediaNode): Promise<{ recv: number; send: number }> {
  const totals = { recv: 0, send: 0 };
  const transports = [...node.rooms.values()].flatMap((room) =>
    [...room.peers.values()].flatMap((peer) => [...peer.transports.values()].map((entry) => entry.transport)),
  );
  await Promise.all(
    transports.map(async (transport) => {
      try {
        for (const stats of (await transport.getStats()) as { recvBitrate: number; sendBitrate: number }[]) {
          totals.recv += stats.recvBitrate;
          totals.send += stats.sendBitrate;
        }
      } catch {
        // Closed while we asked: it no longer carries any bitrate.
      }
    }),
  );
  return totals;
}

interface PeerPipes {
  transports: number;
  sent: number;
  received: number;
  sendBitrate: number;
  recvBitrate: number;
}

/** Pipes to each other node, over every room (./pipes.ts), with their bitrate from the transports' stats. */
async function pipesByPeer(node: MediaNode): Promise<Map<string, PeerPipes>> {
  const totals = new Map<string, PeerPipes>();
  const reads: Promise<void>[] = [];
  for (const room of node.rooms.values()) {
    for (const [peerNodeId, counts] of room.cascade?.counts().byPeer ?? []) {
      let peer = totals.get(peerNodeId);
      if (!peer) {
        peer = { transports: 0, sent: 0, received: 0, sendBitrate: 0, recvBitrate: 0 };
        totals.set(peerNodeId, peer);
      }
      const into = peer;
      into.transports += counts.transports;
      into.sent += counts.sent;
      into.received += counts.received;
      reads.push(
        counts.transport.getStats().then(
          (stats) => {
            for (const stat of stats) {
              into.sendBitrate += stat.sendBitrate;
              into.recvBitrate += stat.recvBitrate;
            }
          },
          // Closed while we asked: it no longer carries any bitrate.
          () => undefined,
        ),
      );
    }
  }
  await Promise.all(reads);
  return totals;
}
