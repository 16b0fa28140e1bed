import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { ProfileView } from "../../protocol/frames";
import { noProfile } from "../../test/fixtures";
import { WIDGET_CSS } from "../../widget/render";
import { OperatorProfileSection } from "./OperatorProfileSection";
import { profileApi } from "../../api/profileApi";


const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": type } });
const problem = (status: number, code: string, detail: string) =>
  json(status, { type: `urn:take-control:problem:${code}`, title: "t", status, detail, code }, "application/problem+json");

/** A fake hub for the profile API: routes by method and path, records every request. */
function fakeHub(routes: Partial<Record<"GET" | "PUT" | "POST", (init: RequestInit) => Response>>) {
  const calls: { method: string; url: string; init: RequestInit }[] = [];
  const fetchFn = vi.fn(async (url: RequestInfo | URL, init: RequestInit = {}) => {
    const method = (init.method ?? "GET") as "GET" | "PUT" | "POST";
    calls.push({ method, url: String(url), init });
    const route = routes[method];
    if (!route) return problem(404, "not_found", "no route");
    return route(init);
  });
  return { calls, api: profileApi({ token: async () => "jwt-martin", fetchFn }) };
}

const HUB = "https://hub.example";

async function open(routes: Parameters<typeof fakeHub>[0]) {
  const hub = fakeHub({ GET: () => json(200, noProfile), ...routes });
  render(<OperatorProfileSection api={hub.api} hubOrigin={HUB} />);
  const toggle = screen.getByRole("button", { name: /Live chat operator/ });
  expect(toggle).toHaveAttribute("aria-expanded", "false");
  await userEvent.click(toggle);
  expect(toggle).toHaveAttribute("aria-expanded", "true");
  const input = await screen.findByRole("textbox", { name: "Display name" });
  return { hub, input };
}

function previewRoot(): ShadowRoot {
  const host = screen.getByRole("figure", { name: "Preview in chat" });
  if (!host.shadowRoot) throw new Error("the preview has no shadow root");
  return host.shadowRoot;
}

describe("Live chat operator settings", () => {
  it("loads the profile when expanded, with the operator's token", async () => {
    const { hub } = await open({});
    expect(hub.calls[0]).toMatchObject({ method: "GET", url: "/api/profile" });
    expect(hub.calls[0]!.init.headers).toMatchObject({ authorization: "Bearer jwt-martin" });
    expect(screen.getByText(/You have no profile yet/)).toBeInTheDocument();
    expect(screen.getByText(/use your account name \(Martin Keller\)/)).toBeInTheDocument();
  });

  it("validates the name as the hub does: 60 emoji refused, 49 characters accepted", async () => {
    const { input } = await open({});
    await userEvent.type(input, "🧗".repeat(60));
    expect(screen.getByRole("alert")).toHaveTextContent("The display name is 60 characters long; keep it under 50.");
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByRole("button", { name: "Save" })).toBeDisabled();

    await userEvent.clear(input);
    await userEvent.type(input, "👩‍💻".repeat(9) + "a".repeat(40));
    expect(screen.queryByRole("alert")).toBeNull();
    expect(input).toHaveAttribute("aria-invalid", "false");
    expect(screen.getByText("49/49")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Save" })).toBeEnabled();
  });

  it("previews with the widget's own renderer and CSS, in a shadow root", async () => {
    const { input } = await open({});
    // Empty name: the account name is shown; no avatar: the placeholder.
    await userEvent.click(screen.getByRole("button", { name: "Preview in chat" }));
    let root = previewRoot();
    expect(root.querySelector("style")?.textContent).toBe(WIDGET_CSS);
    expect(root.querySelector(".tc-notice")?.textContent).toBe("Martin Keller joined the chat");
    expect(root.querySelector(".tc-msg--operator .tc-name")?.textContent).toBe("Martin Keller");
    expect(root.querySelector(".tc-msg--operator [data-placeholder] svg")).not.toBeNull();
    expect(root.querySelector("img")).toBeNull();

    await userEvent.type(input, "Martin from Support");
    root = previewRoot();
    expect(root.querySelector(".tc-notice")?.textContent).toBe("Martin from Support joined the chat");
    expect(root.querySelector(".tc-who")?.textContent).toBe("Martin from Support (human)");
    // Nothing of it leaks into the dashboard's own DOM.
    expect(document.querySelector(".tc-notice")).toBeNull();
  });

  it("uploads the image, shows it in the preview, and saves name and avatar", async () => {
    const saved: ProfileView = {
      ...noProfile,
      saved: true,
      display_name: "Martin from Support",
      avatar_url: "/avatars/demo-pro/abc.png",
      visitor_name: "Martin from Support",
      updated_at: 1,
    };
    const { hub, input } = await open({
      POST: () => json(201, { avatar_url: "/avatars/demo-pro/abc.png", width: 256, height: 256 }),
      PUT: () => json(200, saved),
    });
    await userEvent.type(input, "  Martin from Support ");
    const file = new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], "me.png", { type: "image/png" });
    await userEvent.upload(screen.getByLabelText("Avatar image"), file);
    await waitFor(() => expect(screen.getByRole("img", { name: "Your avatar" })).toHaveAttribute("src", "/avatars/demo-pro/abc.png"));
    const upload = hub.calls.find((c) => c.method === "POST")!;
    expect(upload.url).toBe("/api/profile/avatar");
    expect(upload.init.body).toBe(file);
    expect(upload.init.headers).toMatchObject({ "content-type": "image/png", authorization: "Bearer jwt-martin" });
    // Uploading alone saves nothing.
    expect(hub.calls.some((c) => c.method === "PUT")).toBe(false);

    await userEvent.click(screen.getByRole("button", { name: "Preview in chat" }));
    const img = previewRoot().querySelector<HTMLImageElement>(".tc-msg--operator .tc-author img");
    expect(img?.getAttribute("src")).toBe("https://hub.example/avatars/demo-pro/abc.png");

    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    const status = await screen.findByRole("status");
    expect(status).toHaveTextContent("Saved.");
    expect(status).toHaveTextContent("Visitors will see “Martin from Support” from your next Take Control session");
    const put = hub.calls.find((c) => c.method === "PUT")!;
    expect(JSON.parse(put.init.body as string)).toEqual({ display_name: "Martin from Support", avatar_url: "/avatars/demo-pro/abc.png" });
    expect(put.init.headers).toMatchObject({ "content-type": "application/json" });
  });

  it("shows the hub's reason verbatim when an upload is refused", async () => {
    await open({ POST: () => problem(422, "image_not_square", "The image is 300×200 px; it must be square.") });
    await userEvent.upload(screen.getByLabelText("Avatar image"), new File(["x"], "wide.png", { type: "image/png" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(/^The image is 300×200 px; it must be square\.$/);
    expect(screen.queryByRole("img", { name: "Your avatar" })).toBeNull();
  });

  it("refuses a GIF before uploading it", async () => {
    const { hub } = await open({});
    const input = screen.getByLabelText<HTMLInputElement>("Avatar image");
    expect(input.accept).toBe("image/png,image/jpeg,image/webp");
    await userEvent.upload(input, new File(["GIF89a"], "cat.gif", { type: "image/gif" }), { applyAccept: false });
    expect(await screen.findByRole("alert")).toHaveTextContent("cat.gif is not a PNG, JPEG or WebP image.");
    expect(hub.calls.some((c) => c.method === "POST")).toBe(false);
  });

  it("shows the hub's reason verbatim when a save is refused, and saves nothing locally", async () => {
    const { input } = await open({
      PUT: () => problem(422, "invalid_display_name", "The display name contains an invisible control character (U+200F)."),
    });
    await userEvent.type(input, "Nora");
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("The display name contains an invisible control character (U+200F).");
    expect(screen.queryByRole("status")).toBeNull();
  });

  it("empty name and no avatar saves the account-name profile and removing an avatar sends null", async () => {
    const withAvatar: ProfileView = { ...noProfile, saved: true, display_name: "Martin", avatar_url: "/avatars/demo-pro/x.png", visitor_name: "Martin" };
    const { hub, input } = await open({
      GET: () => json(200, withAvatar),
      PUT: () => json(200, { ...noProfile, saved: true, visitor_name: "Martin Keller" }),
    });
    expect(input).toHaveValue("Martin");
    await userEvent.clear(input);
    await userEvent.click(screen.getByRole("button", { name: "Remove" }));
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByRole("status");
    const put = hub.calls.find((c) => c.method === "PUT")!;
    expect(JSON.parse(put.init.body as string)).toEqual({ display_name: "", avatar_url: null });
    expect(screen.getByRole("status")).toHaveTextContent("Visitors will see “Martin Keller”");
  });

  it("says when the profile cannot be loaded, and tries again", async () => {
    let n = 0;
    const hub = fakeHub({ GET: () => (n++ === 0 ? problem(503, "unavailable", "The store is unavailable; retry.") : json(200, noProfile)) });
    render(<OperatorProfileSection api={hub.api} hubOrigin={HUB} />);
    await userEvent.click(screen.getByRole("button", { name: /Live chat operator/ }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The store is unavailable; retry.");
    await userEvent.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(await screen.findByRole("textbox", { name: "Display name" })).toBeInTheDocument();
  });
});
