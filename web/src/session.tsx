import { createContext, createMemo, createSignal, useContext, type JSX } from "solid-js";
import { type PublicUser, UserResponseSchema } from "../../schema/api/auth";
import { NoContentSchema } from "../../schema/api/portal";
import { api, ApiError } from "./api";
import { browserTimeZone, viewerTimeZone } from "./time";

interface SessionValue {
  /** undefined while loading, null when signed out. */
  user: () => PublicUser | null | undefined;
  /** Why GET /api/me failed (other than "not signed in"). */
  loadError: () => unknown;
  /** Set when the session's account is blocked everywhere: the reason, for the sign-in page to show. */
  blockedMessage: () => string | null;
  /** The zone every time on screen is shown in. */
  timeZone: () => string;
  setUser: (user: PublicUser | null) => void;
  refresh: () => Promise<void>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionValue>();

/** Holds the signed-in user for the whole app (loaded once from GET /api/me, updated by sign-in/settings). */
export function SessionProvider(props: { children: JSX.Element }): JSX.Element {
  const [user, setUser] = createSignal<PublicUser | null | undefined>(undefined);
  const [loadError, setLoadError] = createSignal<unknown>();
  const [blockedMessage, setBlockedMessage] = createSignal<string | null>(null);
  const timeZone = createMemo(() => viewerTimeZone(user()));

  const refresh = async () => {
    setLoadError(undefined);
    try {
      const response = await api("/api/me", UserResponseSchema, { expectUnauthorized: true });
      setUser(response.user);
      // One zone everywhere (pages, Settings, reminders): on the first visit the browser's zone is saved as the
      // user's, unless the insp site already said which one it is.
      if (!response.user.timezoneChosen) {
        const saved = await api("/api/me", UserResponseSchema, { method: "PATCH", body: { timezone: browserTimeZone() } }).catch(() => null);
        if (saved) setUser(saved.user);
      }
    } catch (error) {
      if (error instanceof ApiError && error.code === "UNAUTHORIZED") setUser(null);
      else if (error instanceof ApiError && error.code === "FORBIDDEN") {
        // A blocked account is signed out, and the sign-in page says why.
        setBlockedMessage(error.message);
        setUser(null);
      } else setLoadError(error);
    }
  };
  void refresh();

  const value: SessionValue = {
    user,
    loadError,
    blockedMessage,
    timeZone,
    setUser: (next) => setUser(next),
    refresh,
    signOut: async () => {
      // The session ends on this device even if the request fails (the cookie is HttpOnly; the server clears it).
      await api("/api/auth/logout", NoContentSchema, { method: "POST", expectUnauthorized: true }).catch(() => undefined);
      setUser(null);
    },
  };
  return <SessionContext.Provider value={value}>{props.children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession needs a SessionProvider");
  return session;
}

/**
 * The signed-in user, for components inside the signed-in shell (which renders only once there is one). While
 * signing out, the shell's pages may read it once more before they are torn down; they get the last user then.
 */
export function useUser(): () => PublicUser {
  const { user } = useSession();
  let last = user();
  if (!last) throw new Error("useUser outside the signed-in shell");
  return () => {
    last = user() ?? last;
    return last!;
  };
}
