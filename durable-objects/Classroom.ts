import { type Connection, Server } from "partyserver";
import type { Env } from "../worker/env";

/**
 * One Durable Object per class: the single authority of a live session.
 * (The class-channel issue fills this in; for now it only accepts connections.)
 */
export class Classroom extends Server<Env> {
  static override options = { hibernate: true };

  override onMessage(connection: Connection, message: string | ArrayBuffer): void {
    connection.send(JSON.stringify({ ok: false, error: { code: "UNAVAILABLE", message: "The class channel is not available yet" } }));
    void message;
  }
}
