import { Navigate, Route, Router, useLocation, useNavigate, type RouteSectionProps } from "@solidjs/router";
import { lazy, Match, onCleanup, Switch, type JSX } from "solid-js";
import { setUnauthorizedHandler } from "./api";
import { ErrorAlert, Loading } from "./components/ErrorAlert";
import { RequireRole } from "./components/RequireRole";
import { Shell } from "./components/Shell";
import { ToastProvider } from "./components/Toasts";
import { SessionProvider, useSession } from "./session";

const SignIn = lazy(() => import("./pages/SignIn"));
const Dashboard = lazy(() => import("./pages/Dashboard"));
const CalendarPage = lazy(() => import("./pages/Calendar"));
const Catalog = lazy(() => import("./pages/Catalog"));
const ClassPage = lazy(() => import("./pages/ClassPage"));
const RecordingPage = lazy(() => import("./pages/Recording"));
const Classroom = lazy(() => import("./pages/Classroom"));
const Settings = lazy(() => import("./pages/Settings"));
const Notifications = lazy(() => import("./pages/Notifications"));
const Outbox = lazy(() => import("./pages/Outbox"));
const NotFound = lazy(() => import("./pages/NotFound"));
const ClassEditor = lazy(() => import("./teacher/ClassEditor"));
const ClassManage = lazy(() => import("./teacher/ClassManage"));
const AdminUsers = lazy(() => import("./admin/AdminUsers"));
const AdminBlocks = lazy(() => import("./admin/AdminBlocks"));

/** Where to come back to after signing in: the current path, if it is one of ours. */
export function signInHref(pathname: string, search: string): string {
  if (pathname === "/sign-in") return "/sign-in";
  return `/sign-in?next=${encodeURIComponent(pathname + search)}`;
}

/** Providers plus the one place that turns a lost session (any 401) into a trip to sign-in. */
function Root(props: RouteSectionProps): JSX.Element {
  return (
    <SessionProvider>
      <ToastProvider>
        <UnauthorizedRedirect />
        {props.children}
      </ToastProvider>
    </SessionProvider>
  );
}

function UnauthorizedRedirect(): JSX.Element {
  const navigate = useNavigate();
  const location = useLocation();
  const session = useSession();
  setUnauthorizedHandler(() => {
    session.setUser(null);
    navigate(signInHref(location.pathname, location.search), { replace: true });
  });
  onCleanup(() => setUnauthorizedHandler(null));
  return null;
}

/** Everything but sign-in lives behind this: it waits for /api/me and sends signed-out visitors to sign-in. */
function SignedIn(props: RouteSectionProps): JSX.Element {
  const session = useSession();
  const location = useLocation();
  return (
    <Switch>
      <Match when={session.loadError()}>
        <main class="app-main">
          <ErrorAlert error={session.loadError()} />
          <button type="button" class="button" onClick={() => void session.refresh()}>
            Try again
          </button>
        </main>
      </Match>
      <Match when={session.user() === undefined}>
        <main class="app-main">
          <Loading />
        </main>
      </Match>
      <Match when={session.user() === null}>
        <Navigate href={signInHref(location.pathname, location.search)} />
      </Match>
      <Match when={session.user()}>
        <Shell>{props.children}</Shell>
      </Match>
    </Switch>
  );
}

/** The app's routes. Teacher and admin pages check the role again on the server for every action. */
export function App(): JSX.Element {
  return (
    <Router root={Root}>
      <Route path="/sign-in" component={SignIn} />
      <Route path="/" component={SignedIn}>
        <Route path="/" component={Dashboard} />
        <Route path="/calendar" component={CalendarPage} />
        <Route path="/classes" component={Catalog} />
        <Route
          path="/classes/new"
          component={() => (
            <RequireRole roles={["teacher", "admin"]}>
              <ClassEditor />
            </RequireRole>
          )}
        />
        <Route path="/classes/:id" component={ClassPage} />
        <Route
          path="/classes/:id/edit"
          component={() => (
            <RequireRole roles={["teacher", "admin"]}>
              <ClassEditor />
            </RequireRole>
          )}
        />
        <Route
          path="/classes/:id/manage"
          component={() => (
            <RequireRole roles={["teacher", "admin"]}>
              <ClassManage />
            </RequireRole>
          )}
        />
        <Route path="/classes/:id/live" component={Classroom} />
        <Route path="/recordings/:id" component={RecordingPage} />
        <Route path="/settings" component={Settings} />
        <Route path="/notifications" component={Notifications} />
        <Route
          path="/outbox"
          component={() => (
            <RequireRole roles={["admin"]}>
              <Outbox />
            </RequireRole>
          )}
        />
        <Route
          path="/admin/users"
          component={() => (
            <RequireRole roles={["admin"]}>
              <AdminUsers />
            </RequireRole>
          )}
        />
        <Route
          path="/admin/blocks"
          component={() => (
            <RequireRole roles={["admin"]}>
              <AdminBlocks />
            </RequireRole>
          )}
        />
        <Route path="*" component={NotFound} />
      </Route>
    </Router>
  );
}
