import { Dialog } from "@kobalte/core/dialog";
import type { JSX } from "solid-js";

/**
 * An accessible modal dialog (Kobalte): focus is trapped inside, Escape and the close button close it, and
 * focus returns to what opened it.
 */
export function Modal(props: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description?: string;
  children: JSX.Element;
}): JSX.Element {
  return (
    <Dialog open={props.open} onOpenChange={props.onOpenChange}>
      <Dialog.Portal>
        <Dialog.Overlay class="dialog-overlay" />
        <div class="dialog-positioner">
          <Dialog.Content class="dialog">
            <div class="dialog__head">
              <Dialog.Title class="dialog__title">{props.title}</Dialog.Title>
              <Dialog.CloseButton class="button button--quiet button--small" aria-label="Close">
                ✕
              </Dialog.CloseButton>
            </div>
            {props.description && <Dialog.Description class="muted">{props.description}</Dialog.Description>}
            {props.children}
          </Dialog.Content>
        </div>
      </Dialog.Portal>
    </Dialog>
  );
}
