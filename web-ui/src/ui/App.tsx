import { useCallback, useEffect, useState } from "react";
import { HubClient, operatorSocketUrl, type TokenSource } from "../client/hubClient";
import { primeAudio } from "./alerts";
import { devTokenSource, fetchDevOperators, hostTokenSource, type DevOperator } from "../api/auth";
import { Dashboard } from "./Dashboard";
import { SignIn } from "./SignIn";

type Screen =
  | { kind: "loading" }
  | { kind: "pick"; operators: DevOperator[] }
  | { kind: "no_token" }
  | { kind: "unreachable"; message: string }
  | { kind: "dashboard"; client: HubClient; dev: boolean };

const DEV_OPERATOR_KEY = "take-control.dev-operator";

function makeClient(getToken: TokenSource): HubClient {
  return new HubClient({ url: operatorSocketUrl(window.location), getToken });
}

/** Chooses how the operator signs in, then hands a connected client to the dashboard. */
export function App() {
  const [screen, setScreen] = useState<Screen>({ kind: "loading" });

  const showPicker = useCallback(async () => {
    setScreen({ kind: "loading" });
    try {
      const result = await fetchDevOperators();
      if (result.kind === "not_dev") return setScreen({ kind: "no_token" });
      // A reload keeps the dev operator of this tab signed in.
      const remembered = sessionStorage.getItem(DEV_OPERATOR_KEY);
      if (remembered && result.operators.some((o) => o.id === remembered)) {
        return setScreen({ kind: "dashboard", client: makeClient(devTokenSource(remembered)), dev: true });
      }
      setScreen({ kind: "pick", operators: result.operators });
    } catch (e) {
      setScreen({ kind: "unreachable", message: e instanceof Error ? e.message : String(e) });
    }
  }, []);

  useEffect(() => {
    const host = hostTokenSource();
    if (host) setScreen({ kind: "dashboard", client: makeClient(host), dev: false });
    else void showPicker();
  }, [showPicker]);

  const pick = (op: DevOperator) => {
    primeAudio(); // this click is the gesture that lets later alerts beep
    sessionStorage.setItem(DEV_OPERATOR_KEY, op.id);
    setScreen({ kind: "dashboard", client: makeClient(devTokenSource(op.id)), dev: true });
  };

  switch (screen.kind) {
    case "loading":
      return <p className="fullscreen-note">Loading…</p>;
    case "pick":
      return <SignIn operators={screen.operators} onPick={pick} />;
    case "no_token":
      return (
        <main className="fullscreen-note">
          <h1 className="brand">Take Control</h1>
          <p>
            No operator token. Open this dashboard from your team's application, which passes a token in the address
            (<code>#token=…</code>) or as <code>window.TAKE_CONTROL_TOKEN</code>.
          </p>
        </main>
      );
    case "unreachable":
      return (
        <main className="fullscreen-note" role="alert">
          <h1 className="brand">Take Control</h1>
          <p>The hub could not be reached ({screen.message}).</p>
          <button type="button" className="btn btn--primary" onClick={() => void showPicker()}>
            Try again
          </button>
        </main>
      );
    case "dashboard": {
      const signOut = screen.dev
        ? () => {
            sessionStorage.removeItem(DEV_OPERATOR_KEY);
            void showPicker();
          }
        : undefined;
      return <Dashboard client={screen.client} onSignOut={signOut} />;
    }
  }
}
