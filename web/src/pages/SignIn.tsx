import { useNavigate, useSearchParams } from "@solidjs/router";
import { createEffect, createSignal, type JSX, Show } from "solid-js";
import { type LoginBody, UserResponseSchema } from "../../../schema/api/auth";
import { api } from "../api";
import { ErrorAlert } from "../components/ErrorAlert";
import { useSession } from "../session";

/** Only same-site paths are followed after sign-in, so a crafted link cannot send the user elsewhere. */
function safeNext(next: string | string[] | undefined): string {
  const value = Array.isArray(next) ? next[0] : next;
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return "/";
  return value;
}

/** Sign-in with a local account (insp users arrive already signed in through insp). */
export default function SignIn(): JSX.Element {
  const session = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [email, setEmail] = createSignal("");
  const [password, setPassword] = createSignal("");
  const [pending, setPending] = createSignal(false);
  const [error, setError] = createSignal<unknown>();

  // Someone already signed in (e.g. back button after SSO) goes straight on.
  createEffect(() => {
    if (session.user()) navigate(safeNext(params.next), { replace: true });
  });

  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      const { user } = await api("/api/auth/login", UserResponseSchema, {
        method: "POST",
        body: { email: email().trim(), password: password() } satisfies LoginBody,
        expectUnauthorized: true,
      });
      session.setUser(user);
      navigate(safeNext(params.next), { replace: true });
    } catch (caught) {
      setError(caught);
      setPassword("");
    } finally {
      setPending(false);
    }
  };

  return (
    <main id="main" class="app-main">
      <div class="centered-panel stack">
        <p class="brand" style={{ "font-size": "var(--text-2xl)", margin: "0 auto" }}>
          insp<span>live</span>
        </p>
        <div class="card stack">
          <h1>Sign in</h1>
          <Show when={session.blockedMessage()}>
            {(message) => (
              <p class="alert alert--error" role="alert" data-testid="blocked-message">
                {message()}. If you think this is a mistake, contact your teacher or the insp team.
              </p>
            )}
          </Show>
          <p class="muted">
            Coming from the insp website? Use the “Live classes” link there — it signs you in here automatically. The form below is for local insp-live
            accounts.
          </p>
          <form class="stack" onSubmit={(event) => void submit(event)} aria-describedby="sign-in-error">
            <div class="field">
              <label for="sign-in-email">E-mail</label>
              <input
                id="sign-in-email"
                class="input"
                type="email"
                name="email"
                autocomplete="username"
                required
                value={email()}
                onInput={(e) => setEmail(e.currentTarget.value)}
                aria-invalid={error() ? true : undefined}
              />
            </div>
            <div class="field">
              <label for="sign-in-password">Password</label>
              <input
                id="sign-in-password"
                class="input"
                type="password"
                name="password"
                autocomplete="current-password"
                required
                value={password()}
                onInput={(e) => setPassword(e.currentTarget.value)}
                aria-invalid={error() ? true : undefined}
              />
            </div>
            <ErrorAlert error={error()} id="sign-in-error" />
            <button type="submit" class="button button--primary" disabled={pending()}>
              {pending() ? "Signing in…" : "Sign in"}
            </button>
          </form>
        </div>
      </div>
    </main>
  );
}
