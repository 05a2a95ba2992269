import { CLASSROOM_LIMITS, type ChatMessage, type ClassroomRequestData } from "../schema/protocol/classroom";
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
}

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

  send(caller: ClassIdentity, data: ClassroomRequestData<"chat.send">, now: number): ChatMessage {
    const resent = this.storage.one<ChatRow>(`SELECT * FROM chat WHERE user_id = ? AND client_message_id = ?`, caller.userId, data.clientMessageId);
    if (resent) return toMessage(resent);

    const body = data.body;
    if (LONE_SURROGATE.test(body)) throw new ChannelError("INVALID_MESSAGE", "The message contains broken characters");
    if (body.trim().length === 0) throw new ChannelError("INVALID_MESSAGE", "The message is empty");
    if (graphemeCount(body) > CLASSROOM_LIMITS.maxChatGraphemes) throw new ChannelError("INVALID_MESSAGE", `A message may have at most ${CLASSROOM_LIMITS.maxChatGraphemes} characters`);
    const session = this.session.current();
    if (!session) throw new ChannelError("CONFLICT", "The class is not in session");
    if (!isModerator(caller.role)) {
      if (session.chat_locked === 1) throw new ChannelError("FORBIDDEN", "The teacher has locked the chat");
      if (this.presence.isMuted(caller.userId)) throw new ChannelError("FORBIDDEN", "The teacher has muted your chat");
    }

    const message: ChatMessage = {
      id: crypto.randomUUID(),
      clientMessageId: data.clientMessageId,
      userId: caller.userId,
      displayName: caller.displayName,
      role: caller.role,
      body,
      createdAt: now,
    };
    this.storage.run(
      `INSERT INTO chat (id, client_message_id, user_id, display_name, role, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      message.id,
      message.clientMessageId,
      message.userId,
      message.displayName,
      message.role,
      message.body,
      message.createdAt,
    );
    this.storage.pruneChat();
    this.tailCache = null;
    this.outbox.add("chat.insert", { id: message.id, classId: caller.classId, sessionId: session.id, userId: caller.userId, clientMessageId: message.clientMessageId, body, createdAt: now });
    this.broadcaster.emit({ type: "chat.message", message });
    return message;
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
  };
}
