import { ClassLinks } from "./class-link";
import { ConfigError, loadConfig, type SfuConfig } from "./config";
import { NodeIdentity } from "./fleet-auth";
import { drain, takeOverSigterm } from "./drain";
import { FleetLink } from "./fleet-link";
import { log } from "./log";
import { createMediaTokenVerifier } from "./media-token";
import { MediaNode } from "./Node";
import { startSfuServer } from "./server";
import { configureRecorder, drainRecordings, loadRecorderSettings } from "./recording/Recorder";
import { createRecordingGlue, recordingWorkRoot } from "./recording-glue";
import { loadStorageConfig, type StorageConfig } from "./storage/config";
import { createPublisher } from "./storage/publish";

/** How long a stopping node waits for the registry to hear that it goes (its heartbeat gives up after 5 s). */
const LEAVE_NOTICE_MAX_MS = 2_000;

/** sfu-node entry point (`npm run sfu`): settings from the environment, see sfu-node/README in the report. */
async function main(): Promise<void> {
  let config: SfuConfig;
  let storage: StorageConfig | undefined;
  try {
    config = loadConfig();
    storage = loadStorageConfig();
    configureRecorder(loadRecorderSettings());
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`sfu-node: bad configuration: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }

  const node = await MediaNode.create(config);
  const identity = config.nodeKey ? await NodeIdentity.load({ nodeId: config.nodeId, workerUrl: config.workerUrl, nodeKey: config.nodeKey }) : undefined;

  const recording = identity
    ? createRecordingGlue({ workerUrl: config.workerUrl, identity, workRoot: recordingWorkRoot(), publisher: storage ? createPublisher(storage) : undefined })
    : undefined;
  // Recordings lost nodes left in the store are offered in heartbeat answers; this node finishes them in the background.
  const fleetLink = identity
    ? new FleetLink(config, identity, node, (offer) => {
        void recording?.rescue(offer).catch((error: unknown) => log("error", "recording_rescue_failed", { ...offer, error: String(error) }));
      })
    : undefined;
  const server = await startSfuServer({
    node,
    verifier: createMediaTokenVerifier({ workerUrl: config.workerUrl, nodeId: config.nodeId }),
    host: config.listenHost,
    port: config.httpPort,
    region: config.region,
    fleetStatus: () => (fleetLink ? (fleetLink.registered ? "registered" : "registering") : "disabled"),
  });
  const classLinks = identity
    ? new ClassLinks(
        { workerUrl: config.workerUrl, identity, recording, pipes: { announcedAddress: config.pipeAnnouncedAddress, delays: config.pipeDelays } },
        node,
      )
    : undefined;
  // Recordings this node id left when its previous process was killed: finished (partial) or failed, in the
  // background. Started before the class links, so it lists the work root before any new recording can start.
  void recording
    ?.recoverLeftovers()
    .then((count) => count > 0 && log("info", "recordings_recovered", { count }))
    .catch((error: unknown) => log("error", "recording_recovery_failed", { error: String(error) }));
  fleetLink?.start();
  classLinks?.start();
  if (config.pipeDelays) log("warn", "pipe_delay_test_only", { ...config.pipeDelays, note: "SFU_PIPE_DELAY_MS delays every pipe this node receives" });
  if (!fleetLink) log("warn", "fleet_link_disabled", { reason: "SFU_NODE_KEY is not set; the Worker will not assign classes to this node" });
  log("info", "sfu_started", { nodeId: config.nodeId, kid: identity?.kid, region: config.region, workers: config.workers, publicUrl: config.publicUrl });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log("info", "sfu_stopping", { signal });
    // SIGTERM (a rolling restart, systemd stop) drains first: the classes move their people off, then the node
    // stops. SIGINT (Ctrl-C at a terminal) stops at once.
    if (signal === "SIGTERM") await drain({ node, signaling: server.signaling, fleetLink, classLinks }, config.drainDeadlineMs);
    // Either way the registry hears it before the node goes (a draining node counts as full): until its
    // heartbeats went stale, 30 s later, new classes were still sent to a node that was no longer there.
    await Promise.race([fleetLink?.drain(), new Promise((resolve) => setTimeout(resolve, LEAVE_NOTICE_MAX_MS))]);
    // Running recordings are composed, uploaded and reported before anything closes: a SIGTERM loses none.
    await drainRecordings();
    await recording?.reportsFlushed();
    fleetLink?.stop();
    classLinks?.stop();
    node.close();
    await server.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  takeOverSigterm(() => void stop("SIGTERM"));
}

main().catch((error) => {
  log("error", "sfu_start_failed", { error: String(error instanceof Error ? error.stack : error) });
  process.exit(1);
});
