import { createResource, createSignal, For, Show, Suspense, type JSX } from "solid-js";
import { type PublicUser, AdminUserListResponseSchema, UserResponseSchema } from "../../../schema/api/auth";
import { LIMITS, ROLE_VALUES, type AdminUserCreate } from "../../../schema/api/portal";
import { api, errorMessage } from "../api";
import { createAction } from "../action";
import { ErrorAlert, Loading } from "../components/ErrorAlert";
import { Modal } from "../components/Modal";
import { useToasts } from "../components/Toasts";
import { useUser } from "../session";

type Role = (typeof ROLE_VALUES)[number];
const ROLE_LABELS: Record<Role, string> = { student: "Student", teacher: "Teacher", admin: "Admin" };

/** Admins: find users, change their role, create local accounts. */
export default function AdminUsers(): JSX.Element {
  const me = useUser();
  const toasts = useToasts();
  const [query, setQuery] = createSignal("");
  const [roleFilter, setRoleFilter] = createSignal<Role | "">("");
  const [search, setSearch] = createSignal<{ q?: string; role?: Role }>({});
  const [users, { mutate, refetch }] = createResource(search, (params) => api("/api/admin/users", AdminUserListResponseSchema, { query: params }));
  const [creating, setCreating] = createSignal(false);

  const runSearch = (event?: SubmitEvent) => {
    event?.preventDefault();
    const q = query().trim();
    setSearch({ ...(q ? { q } : {}), ...(roleFilter() ? { role: roleFilter() as Role } : {}) });
  };

  const changeRole = async (user: PublicUser, role: Role) => {
    try {
      const { user: updated } = await api(`/api/admin/users/${user.id}`, UserResponseSchema, { method: "PATCH", body: { role } });
      mutate((current) => current && { ...current, users: current.users.map((u) => (u.id === updated.id ? updated : u)) });
      toasts.notify(`${updated.displayName} is now ${ROLE_LABELS[updated.role].toLowerCase()}.`);
    } catch (error) {
      toasts.notify(errorMessage(error), "error");
      void refetch();
    }
  };

  return (
    <section class="stack">
      <div class="page-head">
        <h1>Users</h1>
        <button type="button" class="button button--primary" onClick={() => setCreating(true)}>
          Create local account
        </button>
      </div>
      <form class="card row" onSubmit={runSearch} role="search" aria-label="Users" style={{ "align-items": "flex-end" }}>
        <div class="field" style={{ flex: "2 1 14rem" }}>
          <label for="users-q">Name or e-mail</label>
          <input id="users-q" class="input" type="search" maxLength={LIMITS.searchLength} value={query()} onInput={(e) => setQuery(e.currentTarget.value)} />
        </div>
        <div class="field" style={{ flex: "1 1 9rem" }}>
          <label for="users-role">Role</label>
          <select id="users-role" class="select" value={roleFilter()} onChange={(e) => setRoleFilter(e.currentTarget.value as Role | "")}>
            <option value="">Any role</option>
            <For each={ROLE_VALUES}>{(role) => <option value={role}>{ROLE_LABELS[role]}</option>}</For>
          </select>
        </div>
        <button type="submit" class="button">
          Search
        </button>
      </form>
      <ErrorAlert error={users.error} />
      {/* Only the results wait for a search, so the search form keeps focus. */}
      <Suspense fallback={<Loading />}>
        <Show
          when={users.latest}
          fallback={
            <Show when={!users.error}>
              <Loading />
            </Show>
          }
        >
          {(list) => (
            <Show when={list().users.length > 0} fallback={<p class="empty">No users match.</p>}>
              <div class="card table-wrap">
                <table class="table">
                  <caption class="visually-hidden">Users</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">E-mail</th>
                      <th scope="col">Role</th>
                    </tr>
                  </thead>
                  <tbody>
                    <For each={list().users}>
                      {(user) => (
                        <tr>
                          <td>{user.displayName}</td>
                          <td class="mono">{user.email}</td>
                          <td>
                            <label class="visually-hidden" for={`role-${user.id}`}>
                              Role of {user.displayName}
                            </label>
                            <select
                              id={`role-${user.id}`}
                              class="select"
                              style={{ "min-width": "8rem" }}
                              value={user.role}
                              disabled={user.id === me().id}
                              title={user.id === me().id ? "You cannot change your own role" : undefined}
                              onChange={(e) => void changeRole(user, e.currentTarget.value as Role)}
                            >
                              <For each={ROLE_VALUES}>{(role) => <option value={role}>{ROLE_LABELS[role]}</option>}</For>
                            </select>
                          </td>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
              </div>
            </Show>
          )}
        </Show>
      </Suspense>
      <Modal
        open={creating()}
        onOpenChange={setCreating}
        title="Create local account"
        description="For people who do not come through insp, e.g. guest teachers."
      >
        <CreateUserForm
          onCreated={(user) => {
            setCreating(false);
            toasts.notify(`Account for ${user.displayName} created.`);
            void refetch();
          }}
        />
      </Modal>
    </section>
  );
}

function CreateUserForm(props: { onCreated: (user: PublicUser) => void }): JSX.Element {
  const [email, setEmail] = createSignal("");
  const [displayName, setDisplayName] = createSignal("");
  const [role, setRole] = createSignal<Role>("student");
  const [password, setPassword] = createSignal("");
  const create = createAction(async () => {
    const body: AdminUserCreate = { email: email().trim(), displayName: displayName().trim(), role: role(), password: password() };
    const { user } = await api("/api/admin/users", UserResponseSchema, { method: "POST", body });
    props.onCreated(user);
  });
  return (
    <form
      class="stack"
      onSubmit={(event) => {
        event.preventDefault();
        void create.run();
      }}
    >
      <div class="field">
        <label for="new-user-name">Display name</label>
        <input
          id="new-user-name"
          class="input"
          required
          maxLength={LIMITS.displayNameLength}
          value={displayName()}
          onInput={(e) => setDisplayName(e.currentTarget.value)}
        />
      </div>
      <div class="field">
        <label for="new-user-email">E-mail</label>
        <input id="new-user-email" class="input" type="email" required autocomplete="off" value={email()} onInput={(e) => setEmail(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="new-user-role">Role</label>
        <select id="new-user-role" class="select" value={role()} onChange={(e) => setRole(e.currentTarget.value as Role)}>
          <For each={ROLE_VALUES}>{(r) => <option value={r}>{ROLE_LABELS[r]}</option>}</For>
        </select>
      </div>
      <div class="field">
        <label for="new-user-password">Password</label>
        <input
          id="new-user-password"
          class="input"
          type="password"
          required
          autocomplete="new-password"
          minLength={LIMITS.passwordMinLength}
          maxLength={LIMITS.passwordMaxLength}
          value={password()}
          onInput={(e) => setPassword(e.currentTarget.value)}
          aria-describedby="new-user-password-hint"
        />
        <span id="new-user-password-hint" class="field__hint">
          At least {LIMITS.passwordMinLength} characters. Give it to the person over a safe channel.
        </span>
      </div>
      <ErrorAlert error={create.error()} />
      <div class="form-actions">
        <button type="submit" class="button button--primary" disabled={create.pending()}>
          Create account
        </button>
      </div>
    </form>
  );
}
