import { beforeEach, describe, expect, it } from "vitest";
import { sfuNodes, type User } from "../../schema/db";
import type { MediaJoinResponse } from "../../schema/protocol/classroom";
import type { LinkProducer } from "../../schema/protocol/class-link";
import type { Env } from "../env";
import { db } from "./helpers";
import { type Answer, type LinkCommand, NodeLink } from "./node-link-helpers";
import { fetchWithEnv } from "./with-env";
import { ChannelClient, createLiveClass, joinToken } from "./ws-client";

/** Registers a node straight in the registry, heard from just now. */
async function addNode(id: string, region: string) {
  const now = Date.now();
  await db.insert(sfuNodes).values({
    id,
    region,
    publicUrl: `https://${id}.sfu.example`,
    consumers: 0,
    maxConsumers: 1000,
    registeredAt: now,
    lastHeartbeatAt: now,
  });
}

/** Joins the class channel from Paris (the request's `cf`), asking for `?region=` under the given LOCAL_DEV. */
async function joinAsking(user: User, classId: string, region: string | null, localDev: Env["LOCAL_DEV"]): Promise<ChannelClient> {
  const { token } = await joinToken(user, classId);
  const query = new URLSearchParams({ token });
  if (region !== null) query.set("region", region);
  const request = new Request(`http://localhost/parties/classroom/${classId}?${query}`, {
    headers: { Upgrade: "websocket" },
    cf: { latitude: "48.86", longitude: "2.35", continent: "EU", country: "FR" },
  });
  const response = await fetchWithEnv(request, { LOCAL_DEV: localDev });
  if (!response.webSocket) throw new Error(`upgrade refused: ${response.status}`);
  const client = new ChannelClient(response.webSocket);
  await client.until(() => client.snapshot !== null, "snapshot");
  return client;
}

beforeEach(async () => {
  await db.delete(sfuNodes);
});

describe("assignment by nearness", () => {
  it("locally, ?region= places the joiner there: a student 'in' ap-southeast gets that node although the class started on eu-west", async () => {
    await addNode("node-eu", "eu-west");
    await addNode("node-sg", "ap-southeast");
    const { classId, teacher, students } = await createLiveClass(2);
    const teacherClient = await joinAsking(teacher, classId, "eu-west", "true");
    expect((await teacherClient.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-eu");
    const camera: LinkProducer = { producerId: "p-cam", userId: teacher.id, kind: "video", source: "video", paused: false };
    const link = await NodeLink.connect(classId, "node-eu", [camera], [teacher.id]);
    await teacherClient.until(() => teacherClient.snapshot !== null && link.closed === null, "link open");

    const singapore = await joinAsking(students[0]!, classId, "ap-southeast", "true");
    expect((await singapore.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-sg");
    // A name with no place is no error: the request's own location counts (Paris → eu-west).
    const nowhere = await joinAsking(students[1]!, classId, "atlantis", "true");
    expect((await nowhere.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-eu");
    for (const client of [teacherClient, singapore, nowhere]) client.close();
    link.socket.close();
  });

  it("in production ?region= changes nothing: the request's own location decides", async () => {
    await addNode("node-eu", "eu-west");
    await addNode("node-sg", "ap-southeast");
    const { classId, students } = await createLiveClass(2);
    for (const [student, localDev] of [
      [students[0]!, "false"],
      [students[1]!, undefined],
    ] as const) {
      const client = await joinAsking(student, classId, "ap-southeast", localDev);
      expect((await client.ok<MediaJoinResponse>("media.join")).nodeId).toBe("node-eu");
      client.close();
    }
  });
});

/** A node's answers to the cascade's commands: its own pipe end (as it reports it) and the stream it pipes. */
function pipingNode(ip: string, port: number): (command: LinkCommand) => Answer {
  return (command) => {
    if (command.method === "pipeOpen") return { ok: true, data: { ip, port, srtpParameters: { cryptoSuite: "AEAD_AES_256_GCM", keyBase64: `key-of-${ip}` } } };
    if (command.method === "pipeConsume")
      return {
        ok: true,
        data: {
          kind: "video",
          rtpParameters: { codecs: [{ mimeType: "video/VP8", payloadType: 101, clockRate: 90000 }], encodings: [{ ssrc: 1234 }] },
          paused: false,
        },
      };
    return { ok: true, data: {} };
  };
}

describe("the class object directs pipes between its nodes", () => {
  it("pipes a producer of one node to another that wants it: one pair per node pair, the addresses the nodes reported, pause, idle and close relayed", async () => {
    await addNode("node-eu", "eu-west");
    await addNode("node-sg", "ap-southeast");
    const { classId, teacher } = await createLiveClass(0);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const camera: LinkProducer = { producerId: "p-cam", userId: teacher.id, kind: "video", source: "video", paused: false };
    const screen: LinkProducer = { producerId: "p-screen", userId: teacher.id, kind: "video", source: "screen", paused: false };
    const eu = await NodeLink.connect(classId, "node-eu", [camera, screen], [teacher.id], pipingNode("10.0.0.1", 40001));
    const sg = await NodeLink.connect(classId, "node-sg", [], [], pipingNode("10.0.0.2", 40002));
    await teacherClient.until(() => teacherClient.events.some((e) => e.type === "media.producers" && e.upserts.length === 2), "both producers in the map");

    // Someone on node-sg consumes the camera: both nodes open their ends of one pair, each is connected to the end
    // the other reported, node-eu sends the camera through it and node-sg takes it in under the same id.
    sg.notify("pipeWanted", { producerId: "p-cam" });
    const produced = await sg.command("pipeProduce");
    const openEu = await eu.command("pipeOpen");
    const openSg = await sg.command("pipeOpen");
    expect(openEu.data).toEqual({ peerNodeId: "node-sg", pipeId: openSg.data.pipeId });
    expect(openSg.data.peerNodeId).toBe("node-eu");
    expect((await eu.command("pipeConnect")).data).toEqual({
      peerNodeId: "node-sg",
      pipeId: openSg.data.pipeId,
      remote: { ip: "10.0.0.2", port: 40002, srtpParameters: { cryptoSuite: "AEAD_AES_256_GCM", keyBase64: "key-of-10.0.0.2" } },
    });
    expect((await sg.command("pipeConnect")).data).toMatchObject({ peerNodeId: "node-eu", remote: { ip: "10.0.0.1", port: 40001 } });
    expect((await eu.command("pipeConsume")).data).toEqual({ peerNodeId: "node-sg", producerId: "p-cam" });
    expect(produced.data).toMatchObject({
      peerNodeId: "node-eu",
      producerId: "p-cam",
      userId: teacher.id,
      source: "video",
      stream: { kind: "video", paused: false },
    });
    expect(eu.methods()).toEqual(["pipeOpen", "pipeConnect", "pipeConsume"]);

    // The screen too: the same pair carries it (nothing opened again).
    sg.notify("pipeWanted", { producerId: "p-screen" });
    await sg.command("pipeProduce", (d) => d.producerId === "p-screen");
    expect(eu.methods()).toEqual(["pipeOpen", "pipeConnect", "pipeConsume", "pipeConsume"]);

    // The camera paused on its node: its copy is paused too. Nobody on node-sg watches it any more: node-eu stops sending it.
    eu.notify("producerPaused", { producerId: "p-cam", paused: true });
    expect((await sg.command("pipePause")).data).toEqual({ producerId: "p-cam", paused: true });
    sg.notify("pipeIdle", { producerId: "p-cam" });
    expect((await eu.command("pipeUnconsume")).data).toEqual({ peerNodeId: "node-sg", producerId: "p-cam" });
    // The screen closes on its node: so does its copy.
    eu.notify("producerRemoved", { producerId: "p-screen" });
    expect((await sg.command("pipeDrop")).data).toEqual({ producerId: "p-screen" });

    // A producer the class does not have (or one on the asking node itself) is refused to the asking node.
    sg.notify("pipeWanted", { producerId: "p-nothing" });
    expect((await sg.command("pipeUnavailable")).data).toEqual({ producerId: "p-nothing", message: "That stream has ended" });

    // Watched again, then gone from node-eu's report after its link came back: the copy goes too.
    sg.notify("pipeWanted", { producerId: "p-cam" });
    await teacherClient.until(() => sg.commands.filter((c) => c.method === "pipeProduce" && c.data.producerId === "p-cam").length === 2, "piped again");
    eu.notify("sync", { nodeId: "node-eu", producers: [], users: [teacher.id] });
    expect((await sg.command("pipeDrop", (d) => d.producerId === "p-cam")).data).toEqual({ producerId: "p-cam" });

    // node-sg's link goes: node-eu closes its end of their pipe.
    sg.socket.close();
    expect((await eu.command("pipeClose")).data).toEqual({ peerNodeId: "node-sg" });
    teacherClient.close();
    eu.socket.close();
  });

  it("tells the asking node when the producer's node refuses, and opens a new pair when a node lost its end", async () => {
    await addNode("node-eu", "eu-west");
    await addNode("node-sg", "ap-southeast");
    const { classId, teacher } = await createLiveClass(0);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const camera: LinkProducer = { producerId: "p-cam", userId: teacher.id, kind: "video", source: "video", paused: false };
    let euLostItsEnd = false;
    const eu = await NodeLink.connect(classId, "node-eu", [camera], [teacher.id], (command) => {
      if (command.method === "pipeConsume" && euLostItsEnd) return { ok: false, error: { code: "CONFLICT", message: "No connected pipe to node-sg" } };
      return pipingNode("10.0.0.1", 40001)(command);
    });
    const sg = await NodeLink.connect(classId, "node-sg", [], [], pipingNode("10.0.0.2", 40002));
    await teacherClient.until(() => teacherClient.events.some((e) => e.type === "media.producers"), "the camera in the map");

    sg.notify("pipeWanted", { producerId: "p-cam" });
    await sg.command("pipeProduce");
    const firstPair = (await eu.command("pipeOpen")).data.pipeId;

    // node-eu's room restarted and its end is gone: the object opens a new pair once, then gives up with a reason.
    euLostItsEnd = true;
    sg.notify("pipeWanted", { producerId: "p-cam" });
    const unavailable = await sg.command("pipeUnavailable");
    expect(unavailable.data).toEqual({ producerId: "p-cam", message: "That stream could not be brought to your media server; try again" });
    const pairs = eu.commands.filter((c) => c.method === "pipeOpen").map((c) => c.data.pipeId);
    expect(pairs).toHaveLength(2);
    expect(pairs[1]).not.toBe(firstPair);
    teacherClient.close();
    eu.socket.close();
    sg.socket.close();
  });
});
