import { beforeEach, describe, expect, it } from "vitest";
import { sfuNodes, type User } from "../../schema/db";
import type { MediaJoinResponse } from "../../schema/protocol/classroom";
import type { LinkProducer } from "../../schema/protocol/class-link";
import type { Env } from "../env";
import { db } from "./helpers";
import { type Answer, addNode, type LinkCommand, NodeLink, PipingNode } from "./node-link-helpers";
import { fetchWithEnv } from "./with-env";
import { ChannelClient, createLiveClass, joinToken } from "./ws-client";

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

/** How many commands `method` (matching) the link got so far. */
function count(link: NodeLink, method: string, match: (data: Record<string, unknown>) => boolean = () => true): number {
  return link.commands.filter((c) => c.method === method && match(c.data)).length;
}

/**
 * A live class whose teacher's camera ("p-cam") is on node-eu, which answers commands with `euAnswer`, and node-sg
 * (a PipingNode) in the fleet too; once the camera is in the class's map.
 */
async function cameraOnEu(euAnswer: (command: LinkCommand) => Answer) {
  await addNode("node-eu", "eu-west");
  await addNode("node-sg", "ap-southeast");
  const { classId, teacher } = await createLiveClass(0);
  const teacherClient = await ChannelClient.join(teacher, classId);
  const camera: LinkProducer = { producerId: "p-cam", userId: teacher.id, kind: "video", source: "video", paused: false };
  const eu = await NodeLink.connect(classId, "node-eu", [camera], [teacher.id], euAnswer);
  const sg = await NodeLink.connect(classId, "node-sg", [], [], new PipingNode("10.0.0.2", 40002).answer);
  await teacherClient.until(() => teacherClient.events.some((e) => e.type === "media.producers"), "the camera in the map");
  return { teacherClient, eu, sg };
}

describe("the class object directs pipes between its nodes", () => {
  it("pipes a producer of one node to another that wants it: one pair per node pair, the addresses the nodes reported, pause, idle and close relayed", async () => {
    await addNode("node-eu", "eu-west");
    await addNode("node-sg", "ap-southeast");
    const { classId, teacher } = await createLiveClass(0);
    const teacherClient = await ChannelClient.join(teacher, classId);
    const camera: LinkProducer = { producerId: "p-cam", userId: teacher.id, kind: "video", source: "video", paused: false };
    const screen: LinkProducer = { producerId: "p-screen", userId: teacher.id, kind: "video", source: "screen", paused: false };
    const euNode = new PipingNode("10.0.0.1", 40001);
    const eu = await NodeLink.connect(classId, "node-eu", [camera, screen], [teacher.id], euNode.answer);
    const sg = await NodeLink.connect(classId, "node-sg", [], [], new PipingNode("10.0.0.2", 40002).answer);
    await teacherClient.until(() => teacherClient.events.some((e) => e.type === "media.producers" && e.upserts.length === 2), "both producers in the map");

    // Someone on node-sg consumes the camera: both nodes open their ends of one pair, each is connected to the end
    // the other reported, node-eu sends the camera through it and node-sg takes it in under the same id.
    sg.notify("pipeWanted", { producerId: "p-cam" });
    const produced = await sg.command("pipeProduce");
    expect((await eu.command("pipeOpen")).data).toEqual({ peerNodeId: "node-sg" });
    expect((await sg.command("pipeOpen")).data).toEqual({ peerNodeId: "node-eu" });
    expect((await eu.command("pipeConnect")).data).toEqual({
      peerNodeId: "node-sg",
      remote: { ip: "10.0.0.2", port: 40002, srtpParameters: { cryptoSuite: "AEAD_AES_256_GCM", keyBase64: "key-of-10.0.0.2-40002" } },
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

    // The screen too: the nodes say their ends are connected to each other, so the same pair carries it.
    sg.notify("pipeWanted", { producerId: "p-screen" });
    await sg.command("pipeProduce", (d) => d.producerId === "p-screen");
    expect(count(eu, "pipeConnect") + count(sg, "pipeConnect")).toBe(2);
    expect(count(eu, "pipeClose")).toBe(0);
    expect(count(eu, "pipeConsume")).toBe(2);

    // The camera paused on its node: its copy is paused too. Nobody on node-sg watches it any more: node-eu stops sending it.
    eu.notify("producerPaused", { producerId: "p-cam", paused: true });
    expect((await sg.command("pipePause")).data).toEqual({ producerId: "p-cam", paused: true });
    sg.notify("pipeIdle", { producerId: "p-cam" });
    expect((await eu.command("pipeUnconsume")).data).toEqual({ peerNodeId: "node-sg", producerId: "p-cam" });
    // The screen closes on its node: so does its copy.
    eu.notify("producerRemoved", { producerId: "p-screen" });
    expect((await sg.command("pipeDrop")).data).toEqual({ producerId: "p-screen" });

    // A producer the class does not have is refused to the asking node, with the reason.
    sg.notify("pipeWanted", { producerId: "p-nothing" });
    expect((await sg.command("pipeUnavailable")).data).toEqual({ producerId: "p-nothing", message: "That stream has ended" });

    // Watched again, then gone from node-eu's report after its link came back: the copy goes too.
    sg.notify("pipeWanted", { producerId: "p-cam" });
    await teacherClient.until(() => count(sg, "pipeProduce", (d) => d.producerId === "p-cam") === 2, "piped again");
    eu.notify("sync", { nodeId: "node-eu", producers: [], users: [teacher.id] });
    expect((await sg.command("pipeDrop", (d) => d.producerId === "p-cam")).data).toEqual({ producerId: "p-cam" });

    // node-sg's link goes: node-eu closes its end of their pipe.
    sg.socket.close();
    expect((await eu.command("pipeClose")).data).toEqual({ peerNodeId: "node-sg" });
    teacherClient.close();
    eu.socket.close();
  });

  it("drops a copy made while its producer closed: the drop sent during the making is sent again after it", async () => {
    const euNode = new PipingNode("10.0.0.1", 40001);
    // The camera closes on node-eu just as node-eu starts sending it through the pipe: the notification reaches
    // the object before node-eu's answer to `pipeConsume`, so the object hears of the close mid-making.
    let eu: NodeLink | undefined;
    const closingMidway = (command: LinkCommand): Answer => {
      if (command.method === "pipeConsume") eu?.notify("producerRemoved", { producerId: "p-cam" });
      return euNode.answer(command);
    };
    const spread = await cameraOnEu(closingMidway);
    const { teacherClient, sg } = spread;
    eu = spread.eu;

    sg.notify("pipeWanted", { producerId: "p-cam" });
    await sg.command("pipeProduce");
    // node-sg is told to drop its copy after it made it, so no dead copy of a closed camera stays there.
    await teacherClient.until(() => sg.methods().lastIndexOf("pipeDrop") > sg.methods().indexOf("pipeProduce"), "dropped after the making");
    teacherClient.close();
    eu.socket.close();
    sg.socket.close();
  });

  it("replaces a pair whose ends no longer point at each other, and tells the asking node when the producer's node refuses", async () => {
    const euNode = new PipingNode("10.0.0.1", 40001);
    const { teacherClient, eu, sg } = await cameraOnEu(euNode.answer);
    sg.notify("pipeWanted", { producerId: "p-cam" });
    await sg.command("pipeProduce");

    // node-eu lost its end (its room closed and opened again); node-sg's end still points at the old one. The
    // object sees it in the nodes' answers (it remembers no pairs: it may have hibernated since) and makes a new pair.
    euNode.loseEnd("node-sg");
    sg.notify("pipeWanted", { producerId: "p-cam" });
    await teacherClient.until(() => count(sg, "pipeProduce") === 2, "piped through a new pair");
    expect((await sg.command("pipeClose")).data).toEqual({ peerNodeId: "node-eu" });
    // Both ends were made anew, and node-sg is connected to node-eu's new end as node-eu reported it.
    const newEnd = euNode.ends.get("node-sg")!;
    expect(newEnd).toBeGreaterThan(40001);
    expect((await sg.command("pipeConnect", (d) => (d.remote as { port: number }).port === newEnd)).data).toMatchObject({ remote: { ip: "10.0.0.1" } });

    // node-eu refuses to send it: after one more try the asking node is told; the pair, fine as it is, stays
    // (other streams may be using it).
    euNode.refuseConsume = true;
    sg.notify("pipeWanted", { producerId: "p-cam" });
    expect((await sg.command("pipeUnavailable")).data).toEqual({
      producerId: "p-cam",
      message: "That stream could not be brought to your media server; try again",
    });
    expect(count(eu, "pipeConsume")).toBe(4);
    expect(count(sg, "pipeClose") + count(eu, "pipeClose")).toBe(2);
    teacherClient.close();
    eu.socket.close();
    sg.socket.close();
  });
});
