// Drive the ens2rt page in headless Chromium (playwright-core with the system's chromium),
// as a user would: pick a file, confirm the frame rate and model, run, download.
// Used by tests/test_web_page.py and benchmarks/browser.py.
//
//   node drive-page.mjs PLAN.json OUT_DIR
//
// PLAN: {url, cases: [{name, files: [paths], input: "file" | "folder" | "example",
//        frameRate?, model?, timeFirst?, downloads?: ["npz", "rate", "spikes"]}], screenshot?: true}
// OUT_DIR gets each case's downloads (NAME.npz, NAME-rate.csv, NAME-spikes.csv), page.png
// and report.json: {engine, cases: {NAME: {message, summary, seconds, runSeconds, progressSeen, slowestAnswerMs}}}.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [planPath, out] = process.argv.slice(2);
const plan = JSON.parse(readFileSync(planPath, "utf8"));
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];

const browser = await chromium.launch({ executablePath, headless: true, args });
const report = { cases: {} };
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 1300 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("pageerror", (error) => consoleErrors.push(error.message));
  await page.goto(plan.url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 60000 });
  report.engine = await page.textContent("#engine");
  report.isolated = await page.evaluate(() => self.crossOriginIsolated);
  const defaultModel = await page.evaluate(async () => (await (await fetch("models/index.json")).json()).default);
  for (const step of plan.cases) {
    const started = Date.now();
    await page.evaluate(() => {
      document.getElementById("message").textContent = "";
      document.getElementById("results").hidden = true;
    });
    if (step.input === "example") await page.click("#example");
    else await page.setInputFiles(step.input === "folder" ? "#folder" : "#file", step.files);
    await page.waitForFunction(() => !document.getElementById("run").disabled || document.getElementById("message").textContent, null, { timeout: 30000 });
    let message = await page.textContent("#message");
    let summary = null;
    let progressSeen = false;
    let slowestAnswerMs = null;
    if (!message) {
      if (step.frameRate !== undefined) await page.fill("#frame-rate", String(step.frameRate));
      await page.selectOption("#model", step.model ?? defaultModel); // a case without a model runs the default
      await page.setChecked("#time-first", Boolean(step.timeFirst));
      await page.click("#run");
      // the progress bar shows while the worker runs, and the page answers meanwhile
      progressSeen = await page.evaluate(() => !document.getElementById("progress").hidden);
      // how long the page takes to answer while the worker runs (the longest of its answers)
      slowestAnswerMs = 0;
      const finished = () => page.evaluate(() => !document.getElementById("results").hidden || Boolean(document.getElementById("message").textContent));
      for (let asked = Date.now(); !(await finished()); asked = Date.now()) {
        slowestAnswerMs = Math.max(slowestAnswerMs, Date.now() - asked);
        if (Date.now() - started > 3600000) throw new Error(`${step.name}: no result after an hour`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      message = await page.textContent("#message");
      if (!message) summary = await page.textContent("#summary");
    }
    report.cases[step.name] = { message: message || null, summary, progressSeen, slowestAnswerMs, seconds: (Date.now() - started) / 1000 };
    if (summary !== null) {
      report.cases[step.name].runSeconds = await page.evaluate(() => window.ens2rtLastRunSeconds ?? null);
      for (const kind of step.downloads ?? []) {
        const [download] = await Promise.all([page.waitForEvent("download"), page.click(`#download-${kind}`)]);
        await download.saveAs(join(out, kind === "npz" ? `${step.name}.npz` : `${step.name}-${kind}.csv`));
      }
      if (step.neuron !== undefined) {
        await page.fill("#neuron", String(step.neuron));
        await page.dispatchEvent("#neuron", "input");
      }
    }
  }
  if (plan.screenshot) await page.screenshot({ path: join(out, "page.png"), fullPage: true });
  report.pageErrors = consoleErrors;
} finally {
  await browser.close();
}
writeFileSync(join(out, "report.json"), JSON.stringify(report, null, 2));
