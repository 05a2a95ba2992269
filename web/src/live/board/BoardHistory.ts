import { createSignal } from "solid-js";
import type { BoardOp, BoardSurface } from "../../../../schema/protocol/board";

/** One thing the user did, as the ops that did it and the ops that take it back. */
export interface BoardAction {
  surface: BoardSurface;
  key: string;
  redo: BoardOp[];
  undo: BoardOp[];
}

/**
 * Undo and redo of the user's own actions, kept per surface (undo on page 3 never reaches back to page 2).
 * Undoing an added shape deletes it; undoing an erase or a clear adds the shapes again with their ids.
 */
export class BoardHistory {
  private readonly undoStacks = new Map<string, BoardAction[]>();
  private readonly redoStacks = new Map<string, BoardAction[]>();
  /** Bumped on every change, so buttons can track whether undo and redo have anything to do. */
  private readonly version = createSignal(0);

  constructor(private readonly send: (surface: BoardSurface, op: BoardOp) => Promise<void>) {}

  record(action: BoardAction): void {
    this.stack(this.undoStacks, action.key).push(action);
    this.redoStacks.set(action.key, []);
    this.touch();
  }

  canUndo(key: string): boolean {
    this.version[0]();
    return (this.undoStacks.get(key)?.length ?? 0) > 0;
  }

  canRedo(key: string): boolean {
    this.version[0]();
    return (this.redoStacks.get(key)?.length ?? 0) > 0;
  }

  async undo(key: string): Promise<void> {
    const action = this.stack(this.undoStacks, key).pop();
    if (!action) return;
    this.stack(this.redoStacks, key).push(action);
    this.touch();
    for (const op of action.undo) await this.send(action.surface, op);
  }

  async redo(key: string): Promise<void> {
    const action = this.stack(this.redoStacks, key).pop();
    if (!action) return;
    this.stack(this.undoStacks, key).push(action);
    this.touch();
    for (const op of action.redo) await this.send(action.surface, op);
  }

  private stack(stacks: Map<string, BoardAction[]>, key: string): BoardAction[] {
    let stack = stacks.get(key);
    if (!stack) stacks.set(key, (stack = []));
    return stack;
  }

  private touch(): void {
    this.version[1]((n) => n + 1);
  }
}
