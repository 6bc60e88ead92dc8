// End-to-end test of the `serve` web page in headless Chromium (run by tests/it/ui.rs).
//
//   node tests/e2e/ui.mjs URL SCREENSHOT.png [ADMIN_TOKEN]
//
// Loads URL, (with a token: sees the 401 message, enters the token), triggers an event, waits
// for its delivery to appear, opens it, checks the attempt's exact request and response, clicks
// redeliver, waits for the manual second attempt, triggers a second event (listed first), and
// writes a screenshot. Exits 1 with a
// message on the first failed step; the screenshot is written either way.
// CHROMIUM overrides the browser (default /usr/bin/chromium).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, screenshot, token] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node ui.mjs URL SCREENSHOT.png [ADMIN_TOKEN]");
  process.exit(2);
}
const STEP_MS = 20_000;
const EVENT = "domain.status_changed";

const profile = mkdtempSync(join(tmpdir(), "inboxkit-mock-e2e-"));
const problems = [];
let context;
let page;
let step = "launch Chromium";

async function expectText(selector, pattern, what) {
  const locator = page.locator(selector).first();
  await locator.waitFor({ state: "visible", timeout: STEP_MS });
  const deadline = Date.now() + STEP_MS;
  let text = "";
  while (Date.now() < deadline) {
    text = (await locator.textContent()) ?? "";
    if (pattern.test(text)) return text;
    await page.waitForTimeout(100);
  }
  throw new Error(`${what}: ${selector} shows ${JSON.stringify(text.slice(0, 300))}, expected ${pattern}`);
}

async function run() {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // CSP violations and script errors surface as console errors.
    if (message.type() === "error" && !/status of 401/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });

  step = `load ${url}`;
  const response = await page.goto(url, { waitUntil: "load", timeout: STEP_MS });
  if (!response || response.status() !== 200) {
    throw new Error(`the page answered ${response && response.status()}`);
  }
  await expectText("h1", /inboxkit-mock/, "title");

  if (token) {
    step = "see the 401 message, then enter the admin token";
    await expectText("#banner", /401 Unauthorized.*--admin-token/, "the 401 banner");
    await page.fill("#token", token);
    await page.click("#token-save");
    await page.locator("#banner").waitFor({ state: "hidden", timeout: STEP_MS });
  }
  await expectText("#clock", /clock (paused|running)/, "the clock");

  step = `trigger ${EVENT}`;
  await page.selectOption("#trigger-event", EVENT);
  await page.click("#trigger");
  const row = page.locator("#deliveries tr[data-id]").first();
  await row.waitFor({ state: "visible", timeout: STEP_MS });
  await expectText("#deliveries tr[data-id] >> nth=0", new RegExp(EVENT.replace(".", "\\.")), "the new row");
  await page.locator('#deliveries tr[data-state="delivered"]').first().waitFor({ timeout: STEP_MS });
  const id = await row.getAttribute("data-id");

  step = `open delivery ${id}`;
  await row.click();
  await expectText("#detail-title", new RegExp(EVENT.replace(".", "\\.")), "the detail title");
  const first = '#attempts details.attempt[data-number="1"]';
  await page.locator(first).waitFor({ timeout: STEP_MS });
  await expectText(`${first} .line`, /^POST http:\/\/127\.0\.0\.1:\d+\//, "the request line");
  await expectText(`${first} .headers`, /X-InboxKit-Signature/, "the request headers");
  await expectText(`${first} .request-body`, /"event":\s*"domain\.status_changed"/, "the request body");
  await expectText(`${first} .response-status`, /^HTTP 2\d\d$/, "the response status");

  step = "redeliver";
  await page.click("#redeliver");
  const second = '#attempts details.attempt[data-number="2"]';
  await page.locator(second).waitFor({ timeout: STEP_MS });
  const trigger = await page.locator(second).getAttribute("data-trigger");
  if (trigger !== "manual") throw new Error(`attempt #2 is ${trigger}, expected manual`);
  await expectText(`${second} .response-status`, /^HTTP 2\d\d$/, "the redelivery's response");
  await expectText(`#deliveries tr[data-id="${id}"] .attempts`, /^2$/, "the attempts count");
  await expectText("#notice", /Redelivered/, "the notice");

  step = "trigger a second event: the newest comes first";
  await page.selectOption("#trigger-event", "mailbox.status_changed");
  await page.click("#trigger");
  await expectText("#deliveries tr[data-id] >> nth=0", /mailbox\.status_changed/, "the newest row");
  await expectText("#deliveries tr[data-id] >> nth=1", /domain\.status_changed/, "the older row");
  await expectText("#count", /of 2$/, "the count");
  await page.click(`#deliveries tr[data-id="${id}"]`);
  await page.locator(second).waitFor({ timeout: STEP_MS });

  step = "check for page and CSP errors";
  if (problems.length) throw new Error(problems.join("\n"));
}

let failure = null;
try {
  await run();
} catch (error) {
  failure = error;
}
try {
  if (page) await page.screenshot({ path: screenshot, fullPage: true });
} catch (error) {
  console.error(`could not write the screenshot: ${error.message}`);
}
if (context) await context.close();
rmSync(profile, { recursive: true, force: true });
if (failure) {
  console.error(`UI end-to-end test failed at step "${step}": ${failure.message}`);
  if (problems.length) console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`UI end-to-end test passed; screenshot: ${screenshot}`);
