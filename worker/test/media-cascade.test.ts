import { beforeEach, describe, expect, it } from "vitest";
import { sfuNodes, type User } from "../../schema/db";
import type { MediaJoinResponse } from "../../schema/protocol/classroom";
import type { LinkProducer } from "../../schema/protocol/class-link";
import type { Env } from "../env";
import { db } from "./helpers";
import { NodeLink } from "./node-link-helpers";
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
