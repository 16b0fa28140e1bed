import { defineConfig } from "vite";

// The embeddable visitor widget: one self-contained, minified IIFE at dist/widget.js (no
// chunks, no CSS file: its styles are a string it puts into its own shadow root). It runs after
// the dashboard's build, so it must not empty dist/.
export default defineConfig({
  publicDir: false,
  build: {
    outDir: "dist",
    emptyOutDir: false,
    target: "es2020",
    minify: true,
    sourcemap: false,
    lib: {
      entry: "src/widget/main.ts",
      name: "TakeControlWidgetBundle",
      formats: ["iife"],
      fileName: () => "widget.js",
    },
  },
});
