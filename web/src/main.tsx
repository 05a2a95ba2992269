import { render } from "solid-js/web";
import { App } from "./App";
import "./styles/tokens.css";
import "./styles/base.css";
import "./styles/layout.css";
import "./styles/components.css";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");
render(() => <App />, root);
