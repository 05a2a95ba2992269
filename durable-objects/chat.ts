import { type ChatAttachment, CLASSROOM_LIMITS, type ChatMessage, type ClassroomRequestData } from "../schema/protocol/classroom";
import { type ClassIdentity, type ClassRole, isModerator } from "../schema/tokens/class-token";
import type { Broadcaster } from "./broadcaster";
import { ChannelError } from "./errors";
import type { Outbox } from "./outbox";
import type { Presence } from "./presence";
import type { LiveSession } from "./session";
import type { RoomStorage } from "./storage";

interface ChatRow extends Record<string, string | number | null> {
  id: string;
  client_message_id: string;
  user_id: string;
  display_name: string;
  role: string;
  body: string;
  created_at: number;
  attachment: string | null;
}

/**
 * Looks up a file for a chat message: the upload's metadata when it belongs to this class and to this user,
 * else null (the object reads D1; the Worker wrote the row when the upload completed).
 */
export type SharedFileLookup = (userId: string, fileId: string) => Promise<ChatAttachment | null>;

/** Half of a surrogate pair on its own: JSON can carry it, but it is not text and D1 would store garbage. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Counts user-perceived characters: one emoji (even a family or a flag) is one. */
export function graphemeCount(text: string): number {
  let count = 0;
  for (const _ of graphemes.segment(text)) count += 1;
  return count;
}

/** Chat of the live session: posting (idempotent per client message id), deleting, locking. */
export class Chat {
  /**
   * The snapshot's tail, kept between changes: every join reads it, and the query was the largest share of a
   * join inside the object (~1.6 ms each, bench/classroom.ts profile). Tied to the session it was read in, so a
   * new session never sees the last one's chat; send and delete drop it.
   */
  private tailCache: { sessionId: string; messages: ChatMessage[] } | null = null;

  constructor(
    private readonly storage: RoomStorage,
    private readonly outbox: Outbox,
    private readonly session: LiveSession,
    private readonly presence: Presence,
    private readonly broadcaster: Broadcaster,
    private readonly lookupFile: SharedFileLookup,
  ) {}

  /** The last messages of the snapshot, oldest first. */
  tail(): ChatMessage[] {
    const sessionId = this.session.current()?.id ?? "";
    if (this.tailCache?.sessionId !== sessionId) {
      const messages = this.storage
        .all<ChatRow>(`SELECT * FROM (SELECT * FROM chat ORDER BY seq DESC LIMIT ?) ORDER BY seq`, CLASSROOM_LIMITS.snapshotChatMessages)
        .map(toMessage);
      this.tailCache = { sessionId, messages };
    }
    return this.tailCache.messages;
  }

  async send(caller: ClassIdentity, data: ClassroomRequestData<"chat.send">, now: number): Promise<ChatMessage> {
    const resent = this.resent(caller.userId, data.clientMessageId);
    if (resent) return resent;

    const body = data.body;
    if (LONE_SURROGATE.test(body)) throw new ChannelError("INVALID_MESSAGE", "The message contains broken characters");
    if (body.trim().length === 0 && !data.attachment) throw new ChannelError("INVALID_MESSAGE", "The message is empty");
    if (graphemeCount(body) > CLASSROOM_LIMITS.maxChatGraphemes)
      throw new ChannelError("INVALID_MESSAGE", `A message may have at most ${CLASSROOM_LIMITS.maxChatGraphemes} characters`);
    this.checkMayPost(caller, data.attachment !== undefined);

    let attachment: ChatAttachment | null = null;
    if (data.attachment) {
      attachment = await this.lookupFile(caller.userId, data.attachment.fileId);
      // The same answer for "another class's file", "someone else's file" and "no such file": none of them
      // tells the sender anything about files they cannot see.
      if (!attachment) throw new ChannelError("NOT_FOUND", "No such file of yours in this class");
      // The D1 read let other requests in: the same message may have arrived again, or the lock come down.
      const raced = this.resent(caller.userId, data.clientMessageId);
      if (raced) return raced;
      this.checkMayPost(caller, true);
    }
    const session = this.session.current()!;

    const message: ChatMessage = {
      id: crypto.randomUUID(),
      clientMessageId: data.clientMessageId,
      userId: caller.userId,
      displayName: caller.displayName,
      role: caller.role,
      body,
      createdAt: now,
      attachment,
    };
    this.storage.run(
      `INSERT INTO chat (id, client_message_id, user_id, display_name, role, body, created_at, attachment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      message.id,
      message.clientMessageId,
      message.userId,
      message.displayName,
      message.role,
      message.body,
      message.createdAt,
      attachment && JSON.stringify(attachment),
    );
    this.storage.pruneChat();
    this.tailCache = null;
    this.outbox.add("chat.insert", {
      id: message.id,
      classId: caller.classId,
      sessionId: session.id,
      userId: caller.userId,
      clientMessageId: message.clientMessageId,
      body,
      createdAt: now,
      attachment,
    });
    this.broadcaster.emit({ type: "chat.message", message });
    return message;
  }

  /** Whether students may share files now; teachers and admins always may. */
  filesAllowed(): boolean {
    return this.session.current()?.files_allowed === 1;
  }

  allowFiles(allowed: boolean): void {
    if (!this.session.current()) throw new ChannelError("CONFLICT", "The class is not in session");
    this.session.setFilesAllowed(allowed);
    this.broadcaster.emit({ type: "files.allowed", allowed });
  }

  private resent(userId: string, clientMessageId: string): ChatMessage | null {
    const row = this.storage.one<ChatRow>(`SELECT * FROM chat WHERE user_id = ? AND client_message_id = ?`, userId, clientMessageId);
    return row && toMessage(row);
  }

  /** Throws when the caller may not post now (no session, chat locked or muted, or sharing not allowed). */
  private checkMayPost(caller: ClassIdentity, withFile: boolean): void {
    const session = this.session.current();
    if (!session) throw new ChannelError("CONFLICT", "The class is not in session");
    if (isModerator(caller.role)) return;
    if (session.chat_locked === 1) throw new ChannelError("FORBIDDEN", "The teacher has locked the chat");
    if (this.presence.isMuted(caller.userId)) throw new ChannelError("FORBIDDEN", "The teacher has muted your chat");
    if (withFile && session.files_allowed !== 1) throw new ChannelError("FORBIDDEN", "The teacher has not allowed students to share files");
  }

  delete(caller: ClassIdentity, messageId: string, now: number): void {
    const row = this.storage.one<ChatRow>(`SELECT id FROM chat WHERE id = ?`, messageId);
    if (!row) throw new ChannelError("NOT_FOUND", "No such message in this class");
    this.storage.run(`DELETE FROM chat WHERE id = ?`, messageId);
    this.tailCache = null;
    this.outbox.add("chat.delete", { id: messageId, deletedAt: now, deletedBy: caller.userId });
    this.broadcaster.emit({ type: "chat.deleted", messageId });
  }

  lock(locked: boolean): void {
    this.session.setChatLocked(locked);
    this.broadcaster.emit({ type: "chat.locked", locked });
  }
}

function toMessage(row: ChatRow): ChatMessage {
  return {
    id: row.id,
    clientMessageId: row.client_message_id,
    userId: row.user_id,
    displayName: row.display_name,
    role: row.role as ClassRole,
    body: row.body,
    createdAt: row.created_at,
    attachment: row.attachment ? (JSON.parse(row.attachment) as ChatAttachment) : null,
  };
}
