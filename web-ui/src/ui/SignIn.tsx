import type { DevOperator } from "../api/auth";
import { planHasTakeControl } from "../client/selectors";

/** The `--dev` hub's operator picker: one button per test operator, grouped by workspace. */
export function SignIn({ operators, onPick }: { operators: DevOperator[]; onPick(op: DevOperator): void }) {
  const workspaces = new Map<string, DevOperator[]>();
  for (const op of operators) {
    const list = workspaces.get(op.workspace_id) ?? [];
    list.push(op);
    workspaces.set(op.workspace_id, list);
  }
  return (
    <main className="signin">
      <div className="signin__card">
        <h1 className="brand">Take Control</h1>
        <p className="signin__lead">
          Development sign-in. Pick an operator; the hub issues a token for them. In production the host application
          passes the operator's token instead.
        </p>
        {operators.length === 0 && <p>The hub lists no operators.</p>}
        {[...workspaces.values()].map((ops) => {
          const first = ops[0];
          if (!first) return null;
          const headingId = `ws-${first.workspace_id}`;
          return (
            <section key={first.workspace_id} className="signin__workspace" aria-labelledby={headingId}>
              <h2 id={headingId}>
                {first.workspace_name}{" "}
                <span className={`badge badge--plan${planHasTakeControl(first.plan) ? " badge--pro" : ""}`}>
                  {first.plan}
                </span>
              </h2>
              <ul className="signin__list">
                {ops.map((op) => (
                  <li key={op.id}>
                    <button
                      type="button"
                      className="signin__operator"
                      data-operator-id={op.id}
                      onClick={() => onPick(op)}
                    >
                      <span className="signin__name">{op.name}</span>
                      <span className="signin__role">{op.role}</span>
                    </button>
                  </li>
                ))}
              </ul>
            </section>
          );
        })}
      </div>
    </main>
  );
}
