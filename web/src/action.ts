import { createSignal } from "solid-js";

/** State for one user action (a form submit, a button): whether it is running and why it last failed. */
export function createAction<Args extends unknown[], Result>(perform: (...args: Args) => Promise<Result>) {
  const [pending, setPending] = createSignal(false);
  const [error, setError] = createSignal<unknown>();
  /** Runs the action; resolves to its result, or undefined when it failed (the failure is in `error()`). */
  const run = async (...args: Args): Promise<Result | undefined> => {
    setPending(true);
    setError(undefined);
    try {
      return await perform(...args);
    } catch (caught) {
      setError(caught);
      return undefined;
    } finally {
      setPending(false);
    }
  };
  return { pending, error, run, clearError: () => setError(undefined) };
}
