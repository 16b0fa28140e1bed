import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// `npm run dev` proxies the hub's socket, API and dev endpoints so the SPA runs on Vite's origin
// exactly as it does when the hub serves `dist/` (same-origin URLs everywhere).
const hub = process.env.HUB_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  // Relative asset URLs: the hub serves `dist/` at `/`, but a host application may mount it
  // under a sub-path.
  base: "./",
  server: {
    proxy: {
      "/ws": { target: hub, ws: true },
      "/dev": { target: hub },
      "/api": { target: hub },
      // Uploaded operator avatars (the settings' preview loads them from this origin).
      "/avatars": { target: hub },
    },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
});
