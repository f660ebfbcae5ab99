// Drives headless Chromium (a system install, through playwright-core) over the web package:
// conformance vectors per bundle, error codes, and the demo page inpainting with a screenshot.
//
//   node test/run_browser_tests.mjs --chromium /usr/bin/chromium --bundle int8=DIR [--bundle fp32=DIR]
//       [--errors int8 --corrupt DIR (error codes, checked on the int8 page)] [--demo int8 --sample photo.jpg --screenshot out.png] [--json report.json]
// Prints the JSON report; exits 1 when a page fails to produce a result. Judging the numbers is the caller's job.
import { promises as fs } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

import { startServer } from "../serve.mjs";

function parseArgs(argv) {
  const args = { bundles: {}, chromium: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", timeoutMs: 240000 };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = () => argv[++i];
    if (key === "--bundle") {
      const [name, folder] = value().split("=");
      args.bundles[name] = path.resolve(folder);
    } else if (key === "--chromium") args.chromium = value();
    else if (key === "--errors") args.errors = value();
    else if (key === "--corrupt") args.corrupt = path.resolve(value());
    else if (key === "--demo") args.demo = value();
    else if (key === "--sample") args.sample = path.resolve(value());
    else if (key === "--screenshot") args.screenshot = path.resolve(value());
    else if (key === "--json") args.json = path.resolve(value());
    else if (key === "--timeout-ms") args.timeoutMs = Number(value());
    else throw new Error(`unknown argument ${key}`);
  }
  return args;
}

async function pageResult(browser, url, timeoutMs, consoleLines) {
  const page = await browser.newPage();
  page.on("console", (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => consoleLines.push(`pageerror: ${error.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.__result !== undefined, null, { timeout: timeoutMs, polling: 250 });
  const result = await page.evaluate(() => window.__result);
  await page.close();
  return result;
}

async function runDemo(browser, base, args, consoleLines) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 720 } });
  page.on("console", (message) => consoleLines.push(`demo ${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => consoleLines.push(`demo pageerror: ${error.message}`));
  await page.goto(`${base}/demo/?bundle=/bundles/${args.demo}`);
  await page.locator("#file").setInputFiles(args.sample);
  await page.waitForFunction(() => !document.getElementById("run").disabled, null, { timeout: args.timeoutMs });
  // Paint a stroke across the middle of the picture, as a user would.
  const box = await page.locator("#mask").boundingBox();
  await page.mouse.move(box.x + box.width * 0.35, box.y + box.height * 0.45);
  await page.mouse.down();
  for (let k = 0; k <= 10; k++) await page.mouse.move(box.x + box.width * (0.35 + 0.03 * k), box.y + box.height * (0.45 + 0.01 * k));
  await page.mouse.up();
  await page.locator("#run").click();
  await page.waitForFunction(() => /^(done|error)/.test(document.getElementById("status").textContent), null, {
    timeout: args.timeoutMs,
    polling: 250,
  });
  const status = await page.locator("#status").textContent();
  const steps = await page.locator("#steps").textContent();
  // The painted area must be filled and everything away from it (beyond the paste blur) left as it was.
  const fill = await page.evaluate((reach) => {
    const read = (id) => {
      const canvas = document.getElementById(id);
      return canvas.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, canvas.width, canvas.height);
    };
    const photo = read("photo"), result = read("result"), mask = read("mask");
    const { width, height } = photo;
    const painted = new Uint8Array(width * height);
    for (let p = 0; p < painted.length; p++) painted[p] = mask.data[4 * p + 3] >= 128 ? 1 : 0;
    const near = new Uint8Array(painted.length); // painted, grown by `reach` pixels (a square)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        if (!painted[y * width + x]) continue;
        for (let yy = Math.max(0, y - reach); yy <= Math.min(height - 1, y + reach); yy++)
          near.fill(1, yy * width + Math.max(0, x - reach), yy * width + Math.min(width - 1, x + reach) + 1);
      }
    let paintedCount = 0, paintedChanged = 0, changedFar = 0, opaque = 0;
    for (let p = 0; p < painted.length; p++) {
      const changed = [0, 1, 2].some((c) => photo.data[4 * p + c] !== result.data[4 * p + c]);
      opaque += photo.data[4 * p + 3] === 255 ? 1 : 0;
      if (painted[p]) {
        paintedCount++;
        paintedChanged += changed ? 1 : 0;
      } else if (!near[p] && changed) changedFar++;
    }
    return { paintedFraction: paintedCount / painted.length, paintedChangedFraction: paintedChanged / Math.max(paintedCount, 1), changedFarFromPaint: changedFar, photoOpaqueFraction: opaque / painted.length };
  }, 12);
  if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true });
  await page.close();
  return { status, steps, ...fill, screenshot: args.screenshot };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const mounts = { ...args.bundles };
  if (args.corrupt) mounts.corrupt = args.corrupt;
  const { server, url } = await startServer({ bundles: mounts });
  const browser = await chromium.launch({ executablePath: args.chromium, headless: true, args: ["--no-sandbox"] });
  const report = { chromium: browser.version(), conformance: {}, console: [] };
  let failed = false;
  try {
    for (const name of Object.keys(args.bundles)) {
      const errors = name === args.errors ? "&corrupt=/bundles/corrupt" : "";
      const result = await pageResult(browser, `${url}/test/harness.html?bundle=/bundles/${name}${errors}`, args.timeoutMs, report.console);
      report.conformance[name] = result;
      failed ||= !result.ok;
    }
    if (args.demo) report.demo = await runDemo(browser, url, args, report.console);
  } finally {
    await browser.close();
    server.close();
  }
  const text = JSON.stringify(report, null, 1);
  if (args.json) await fs.writeFile(args.json, text);
  console.log(text);
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  console.error(`run_browser_tests: ${error.stack ?? error}`);
  process.exit(2);
});
