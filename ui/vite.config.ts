import { defineConfig } from 'vite';

// One build serves both faces: embedded in the desktop app (tauri.conf.json
// `build.frontendDist` = ui/dist) and served by `stormdesk serve`. Relative
// asset URLs keep it working under any mount path.
export default defineConfig({
  base: './',
  clearScreen: false,
  server: {
    // Must match `build.devUrl` in tauri.conf.json.
    port: 5173,
    strictPort: true,
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // WebKitGTK / WKWebView / WebView2 of supported systems, and current browsers.
    target: ['es2021', 'chrome105', 'safari15'],
  },
});
