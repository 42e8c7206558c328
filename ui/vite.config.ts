import { defineConfig, loadEnv } from 'vite';

// One build serves both faces: embedded in the desktop app (tauri.conf.json
// `build.frontendDist` = ui/dist) and served by `stormdesk serve`. Relative
// asset URLs keep it working under any mount path.
export default defineConfig(({ mode }) => {
  // `STORMDESK_API=http://127.0.0.1:PORT npm run dev` proxies the engine's API
  // so the browser sees one origin (no CORS): open the page with `?token=...`.
  const api = loadEnv(mode, '.', 'STORMDESK_').STORMDESK_API;
  const proxy = api ? { '/v1': { target: api, changeOrigin: true } } : undefined;
  return {
    base: './',
    clearScreen: false,
    server: {
      // Must match `build.devUrl` in tauri.conf.json.
      port: 5173,
      strictPort: true,
      proxy,
    },
    preview: { proxy },
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      // WebKitGTK / WKWebView / WebView2 of supported systems, and current browsers.
      target: ['es2021', 'chrome105', 'safari15'],
    },
  };
});
