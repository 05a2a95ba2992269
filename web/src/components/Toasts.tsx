import { createContext, createSignal, For, useContext, type JSX } from "solid-js";

type ToastKind = "success" | "error";
interface Toast {
  id: number;
  kind: ToastKind;
  message: string;
}

interface ToastApi {
  /** Shows a short message that disappears by itself; screen readers hear it (errors assertively). */
  notify: (message: string, kind?: ToastKind) => void;
}

const ToastContext = createContext<ToastApi>();
const TOAST_LIFETIME_MS = 6000;

export function ToastProvider(props: { children: JSX.Element }): JSX.Element {
  const [toasts, setToasts] = createSignal<Toast[]>([]);
  let nextId = 1;
  const dismiss = (id: number) => setToasts((all) => all.filter((t) => t.id !== id));
  const notify = (message: string, kind: ToastKind = "success") => {
    const id = nextId++;
    setToasts((all) => [...all, { id, kind, message }]);
    setTimeout(() => dismiss(id), TOAST_LIFETIME_MS);
  };
  const list = (kind: ToastKind) => (
    <For each={toasts().filter((t) => t.kind === kind)}>
      {(toast) => (
        <div class={`toast toast--${toast.kind}`}>
          <span>{toast.message}</span>
          <button type="button" class="button button--quiet button--small" onClick={() => dismiss(toast.id)} aria-label="Dismiss">
            ✕
          </button>
        </div>
      )}
    </For>
  );
  return (
    <ToastContext.Provider value={{ notify }}>
      {props.children}
      {/* Two live regions that always exist, so additions are announced. */}
      <div class="toasts">
        <div role="status" aria-live="polite" class="stack" style={{ gap: "var(--space-2)" }}>
          {list("success")}
        </div>
        <div role="alert" aria-live="assertive" class="stack" style={{ gap: "var(--space-2)" }}>
          {list("error")}
        </div>
      </div>
    </ToastContext.Provider>
  );
}

export function useToasts(): ToastApi {
  const toasts = useContext(ToastContext);
  if (!toasts) throw new Error("useToasts needs a ToastProvider");
  return toasts;
}
