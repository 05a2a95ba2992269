import { Tabs } from "@kobalte/core/tabs";
import { For, Show, type JSX } from "solid-js";
import "./layout.css";

export interface PanelTab {
  value: string;
  label: string;
  /** A count shown beside the label (raised hands, people), or nothing. */
  count?: number;
  content: () => JSX.Element;
}

/**
 * The classroom's side panel: one tab at a time (chat, people, polls, hands…). Every tab stays mounted while
 * hidden, so a half-written chat message, the chat's scroll position and a poll being drafted survive a look at
 * another tab. `open` false collapses the panel and gives its room to the main picture.
 */
export function SidePanel(props: { id: string; tabs: PanelTab[]; selected: string; onSelect: (value: string) => void; open: boolean }): JSX.Element {
  return (
    <aside id={props.id} class="side-panel" classList={{ "side-panel--closed": !props.open }} aria-label="Class panel" hidden={!props.open}>
      <Tabs value={props.selected} onChange={props.onSelect} class="side-panel__tabs">
        <Tabs.List class="side-panel__list" aria-label="Class panel">
          <For each={props.tabs}>
            {(tab) => (
              <Tabs.Trigger value={tab.value} class="side-panel__trigger">
                {tab.label}
                <Show when={tab.count}>
                  <span class="side-panel__count">{tab.count}</span>
                </Show>
              </Tabs.Trigger>
            )}
          </For>
        </Tabs.List>
        <For each={props.tabs}>
          {(tab) => (
            <Tabs.Content value={tab.value} class="side-panel__content" forceMount>
              {tab.content()}
            </Tabs.Content>
          )}
        </For>
      </Tabs>
    </aside>
  );
}
