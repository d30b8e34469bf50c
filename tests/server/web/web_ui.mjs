// Drives the chat page of a running `tunekit serve` (started with --api-key) in headless Chromium
// (playwright-core): loads GET /, sees that the API wants the key, types it, picks the knowledge
// base, asks a question, waits for the streamed answer and checks that text arrived and that a
// page-numbered source of the expected document is listed; saves a screenshot.
// Usage: node web_ui.mjs BASE_URL API_KEY KB_NAME DOCUMENT SCREENSHOT_PATH
// Prints PASS/FAIL lines; exits 1 on any failure. CHROMIUM names the browser (default /usr/bin/chromium).
import { chromium } from "playwright-core";

const [baseURL, apiKey, kbName, documentName, screenshot] = process.argv.slice(2);
let failures = 0;
function check(name, ok, detail = "") {
  console.log(`${ok ? "PASS" : "FAIL"} ${name}${ok ? "" : ": " + detail}`);
  if (!ok) failures++;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  const foreign = [];  // requests to anywhere but the server: the page must be self-contained
  page.on("request", (r) => { if (!r.url().startsWith(baseURL)) foreign.push(r.url()); });
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));

  const response = await page.goto(baseURL + "/");
  check("GET / serves the page", response.status() === 200 && (await page.title()) === "tunekit chat",
        `status ${response.status()}, title ${await page.title()}`);
  await page.waitForSelector("#status.error", { timeout: 15000 });  // the lists need the key
  const status = await page.textContent("#status");
  check("without the key the page says the server needs one", /API key/.test(status), status);
  await page.getByLabel("API key").fill(apiKey);
  await page.getByLabel("API key").press("Tab");  // change: the lists load again, with the key
  await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  const models = await page.$$eval("#model option", (os) => os.map((o) => o.value));
  check("the model list is filled from /v1/models", models.length >= 1, JSON.stringify(models));
  const kbs = await page.$$eval("#kb option", (os) => os.map((o) => o.value));
  check("the knowledge bases are listed", kbs.includes(kbName), JSON.stringify(kbs));

  await page.selectOption("#kb", kbName);
  await page.getByLabel("Question").fill("What should my blood glucose be before meals?");
  await page.getByRole("button", { name: "Ask" }).click();
  // Sources come with the first event, before any text: they show while the answer streams.
  await page.waitForSelector(".turn .sources li", { timeout: 60000 });
  await page.waitForSelector(".turn[data-state=done], .turn[data-state=error]", { timeout: 120000 });
  const state = await page.getAttribute(".turn", "data-state");
  const answer = await page.textContent(".turn .answer");
  check("the answer streamed to the end", state === "done", `state ${state}: ${answer}`);
  check("answer text arrived", answer.trim().length > 0, JSON.stringify(answer));
  check("the answer cites as [n]", /\[\d+\]/.test(answer), JSON.stringify(answer));
  const sources = await page.$$eval(".turn .sources li", (lis) =>
    lis.map((li) => ({ document: li.querySelector(".document").textContent, page: li.querySelector(".page").textContent })));
  check(`a source of ${documentName} with a page number is shown`,
        sources.some((s) => s.document === documentName && /^pp?\. \d+/.test(s.page)), JSON.stringify(sources));
  check("[n] markers link to the listed sources", (await page.$$(".turn .answer a.cite")).length > 0, answer);
  check("the page fetched nothing from elsewhere", foreign.length === 0, JSON.stringify(foreign));
  check("the page's script raised no error", pageErrors.length === 0, JSON.stringify(pageErrors));
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
