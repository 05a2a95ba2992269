import { surfaceKey } from "../schema/protocol/board";
import type { ClassroomMethod, ClassroomRequestData, ClassroomResponses } from "../schema/protocol/classroom";
import type { JoinerLocation } from "../schema/regions";
import type { ClassIdentity } from "../schema/tokens/class-token";
import type { Board } from "./board";
import type { Chat } from "./chat";
import { ChannelError } from "./errors";
import type { Hands } from "./hands";
import type { ClassMarks } from "./marks";
import type { MediaPlane } from "./media-plane";
import type { Moderation } from "./moderation";
import type { Polls } from "./polls";
import type { Presence } from "./presence";
import type { RecordingControl } from "./recording";

/** What handlers act on: one object per concern, owned by the Classroom. */
export interface RoomServices {
  chat: Chat;
  polls: Polls;
  presence: Presence;
  hands: Hands;
  moderation: Moderation;
  media: MediaPlane;
  recording: RecordingControl;
  board: Board;
  marks: ClassMarks;
  endSession(caller: ClassIdentity, now: number): Promise<void>;
}

/** The caller of a method: the verified identity, and where they connect from (for the media node choice). */
export type Caller = ClassIdentity & { location?: JoinerLocation };

type Handler<M extends ClassroomMethod> = (
  room: RoomServices,
  caller: Caller,
  data: ClassroomRequestData<M>,
  now: number,
) => ClassroomResponses[M] | Promise<ClassroomResponses[M]>;

/**
 * One small handler per method. The dispatcher has already parsed `data` with the method's schema, checked
 * the caller's role against the method's `roles` and taken from its `rateLimit` buckets; handlers check what
 * depends on state (locks, mutes, targets).
 */
export const HANDLERS: { [M in ClassroomMethod]: Handler<M> } = {
  "chat.send": async (room, caller, data, now) => ({ message: await room.chat.send(caller, data, now) }),
  "chat.delete": (room, caller, data, now) => {
    room.chat.delete(caller, data.messageId, now);
    return {};
  },
  "chat.lock": (room, _caller, data) => {
    room.chat.lock(data.locked);
    return { locked: data.locked };
  },
  "files.allow": (room, _caller, data) => {
    room.chat.allowFiles(data.allowed);
    return { allowed: data.allowed };
  },
  "participant.mute": (room, _caller, data) => {
    room.moderation.mute(data.userId, data.muted);
    return {};
  },
  "participant.remove": (room, _caller, data, now) => {
    room.moderation.remove(data.userId, now);
    return {};
  },
  "participant.block": async (room, caller, data, now) => {
    await room.moderation.block(caller, data.userId, data.reason ?? "", now);
    return {};
  },
  "poll.create": (room, caller, data, now) => ({ poll: room.polls.create(caller, data, now) }),
  "poll.vote": (room, caller, data, now) => ({ optionIds: room.polls.vote(caller, data, now) }),
  "poll.close": (room, _caller, data, now) => ({ poll: room.polls.close(data.pollId, now) }),
  "poll.publish": (room, _caller, data, now) => ({ poll: room.polls.publish(data.pollId, now) }),
  "hand.raise": (room, caller, _data, now) => ({ handRaisedAt: room.hands.raise(caller, now) }),
  "hand.lower": (room, caller, data) => {
    room.hands.lower(caller, data.userId);
    return {};
  },
  "reaction.send": (room, caller, data) => {
    room.hands.react(caller, data.emoji);
    return {};
  },
  "session.end": async (room, caller, _data, now) => {
    await room.endSession(caller, now);
    return {};
  },
  "media.join": (room, caller, data, now) => room.media.join(caller, caller.location ?? {}, now, data.unreachable),
  "media.renew": (room, caller, data, now) => room.media.renew(caller, data.nodeId, now),
  "stage.invite": async (room, _caller, data, now) => {
    await room.media.invite(data.userId);
    // A chapter once the nodes took the grant (a refused invitation leaves none).
    room.marks.stageJoined(data.userId, room.presence.get(data.userId)?.displayName ?? "someone", now);
    return {};
  },
  "stage.revoke": async (room, _caller, data) => {
    await room.media.revoke(data.userId);
    return {};
  },
  "media.mute": async (room, _caller, data) => {
    await room.media.mute(data.userId, data.source);
    return {};
  },
  "recording.start": async (room, caller, _data, now) => ({ recording: await room.recording.start(caller, now) }),
  "recording.stop": async (room, _caller, _data, now) => ({ recording: await room.recording.stop(now) }),
  "board.op": (room, caller, data, now) => ({ opSeq: room.board.apply(caller, data.clientOpId, data.surface, data.op, now) }),
  "board.ink": (room, caller, data) => {
    room.board.ink(caller, data);
    return {};
  },
  "board.show": async (room, caller, data, now) => ({ presenter: await room.board.show(caller, data.surface, data.view, now) }),
  "board.view": (room, _caller, data) => ({ presenter: room.board.setView(data.view) }),
  "board.hide": (room, caller, _data, now) => {
    room.board.hide(caller, now);
    return {};
  },
  "board.pen": (room, _caller, data) => {
    if (!room.moderation.isStudentHere(data.userId)) throw new ChannelError("NOT_FOUND", "That student is not in the class");
    return { pens: room.board.setPen(data.userId, data.allowed) };
  },
  "board.fetch": (room, _caller, data) => room.board.surfaceState(surfaceKey(data.surface)),
  "people.list": (room, _caller, data) => ({
    ...room.presence.page(data.cursor ?? 0, data.query ?? "", data.limit),
    headCount: room.presence.headCount(),
  }),
};
