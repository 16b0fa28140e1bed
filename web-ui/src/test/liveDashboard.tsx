import { act, render, waitFor } from "@testing-library/react";
import { expect } from "vitest";
import { HubClient } from "../client/hubClient";
import type { ServerFrame } from "../protocol/frames";
import { Dashboard } from "../ui/Dashboard";
import { FakeHub, immediateFrames } from "./fakeHub";
import { ready } from "./fixtures";

/**
 * The whole dashboard on the real socket client, over a fake hub, signed in as an operator of
 * `plan` with `role`: what the page sends is what the hub would get, and `push` plays the
 * hub's frames. Shared by the dashboard's journey tests.
 */
export async function mountDashboard(
  plan: Parameters<typeof ready>[0] = "pro",
  role: Parameters<typeof ready>[1] = "operator",
) {
  const hub = new FakeHub();
  let n = 0;
  const client = new HubClient({
    url: "ws://hub.test/ws/operator",
    getToken: async () => "jwt",
    connect: hub.connect,
    newClientId: () => `cid-${++n}`,
    scheduleFrame: immediateFrames,
  });
  render(<Dashboard client={client} />);
  await waitFor(() => expect(hub.sockets).toHaveLength(1));
  const socket = hub.last;
  const push = (f: ServerFrame) => act(() => socket.receive(f));
  act(() => socket.open());
  push(ready(plan, role));
  return { hub, socket, push, client };
}
