import { A, useLocation, useNavigate } from "@solidjs/router";
import { createEffect, createSignal, For, on, Show, Suspense, type JSX } from "solid-js";
import { useSession, useUser } from "../session";
import { Loading } from "./ErrorAlert";

interface NavItem {
  href: string;
  label: string;
  end?: boolean;
  roles?: readonly ("student" | "teacher" | "admin")[];
}

const NAV_ITEMS: readonly NavItem[] = [
  { href: "/", label: "Dashboard", end: true },
  { href: "/calendar", label: "Calendar" },
  { href: "/classes", label: "Classes" },
  { href: "/notifications", label: "Notifications" },
  { href: "/admin/users", label: "Users", roles: ["admin"] },
  { href: "/admin/blocks", label: "Blocks", roles: ["admin"] },
  { href: "/outbox", label: "Outbox", roles: ["admin"] },
  { href: "/settings", label: "Settings" },
];

/** The signed-in layout: a header (navigation collapses into a menu on phones, user name, sign out) and main. */
export function Shell(props: { children: JSX.Element }): JSX.Element {
  const session = useSession();
  const user = useUser();
  const location = useLocation();
  const navigate = useNavigate();
  const [menuOpen, setMenuOpen] = createSignal(false);
  let menuButton: HTMLButtonElement | undefined;

  // A followed link closes the phone menu and moves focus to the new page, so screen readers start there
  // instead of staying on a link that no longer exists.
  createEffect(
    on(
      () => location.pathname,
      () => {
        setMenuOpen(false);
        document.getElementById("main")?.focus({ preventScroll: true });
      },
      { defer: true },
    ),
  );

  const items = () => NAV_ITEMS.filter((item) => !item.roles || item.roles.includes(user().role));

  const signOut = async () => {
    await session.signOut();
    navigate("/sign-in", { replace: true });
  };

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="app-header">
        <div class="app-header__bar">
          <button
            ref={menuButton}
            type="button"
            class="button button--quiet nav-toggle"
            aria-expanded={menuOpen()}
            aria-controls="app-nav"
            onClick={() => setMenuOpen((open) => !open)}
          >
            <span aria-hidden="true">☰</span>
            <span class="visually-hidden">Menu</span>
          </button>
          <A href="/" class="brand" end activeClass="" inactiveClass="">
            insp<span>live</span>
          </A>
          <div class="user-box">
            <bdi class="user-box__name" title={user().email}>
              {user().displayName}
            </bdi>
            <Show when={user().role !== "student"}>
              <span class="badge">{user().role}</span>
            </Show>
            <button type="button" class="button button--small" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        </div>
        <nav
          id="app-nav"
          class="app-nav"
          aria-label="Main"
          data-open={menuOpen()}
          onKeyDown={(event) => {
            if (event.key === "Escape" && menuOpen()) {
              setMenuOpen(false);
              menuButton?.focus();
            }
          }}
        >
          <div class="app-nav__list">
            {/* On phones the name does not fit in the bar, so the menu says who is signed in. */}
            <p class="nav-user">
              Signed in as{" "}
              <strong>
                <bdi>{user().displayName}</bdi>
              </strong>
            </p>
            <For each={items()}>
              {(item) => (
                <A href={item.href} end={item.end}>
                  {item.label}
                </A>
              )}
            </For>
          </div>
        </nav>
      </header>
      <main id="main" class="app-main" tabIndex={-1}>
        <Suspense fallback={<Loading />}>{props.children}</Suspense>
      </main>
    </>
  );
}
