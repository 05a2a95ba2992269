import { render } from "solid-js/web";
import { App } from "./App";
import "./styles/tokens.css";
import "./styles/base.css";
// Layout comes last so shell rules (e.g. hiding the menu button on wide screens) win over component defaults.
import "./styles/components.css";
import "./styles/layout.css";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");
render(() => <App />, root);
