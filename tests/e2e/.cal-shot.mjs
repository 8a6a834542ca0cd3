import { remote } from "webdriverio";
const b = await remote({
  hostname: "127.0.0.1", port: 4445, logLevel: "error",
  capabilities: { browserName: "chrome", "goog:chromeOptions": { binary: "/usr/bin/chromium", args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"] } },
});
const shot = (n) => b.saveScreenshot(`/tmp/calshots/${n}.png`);
try {
  await b.url("http://localhost:1420/");
  await (await b.$("#unlock-passphrase")).setValue("correct horse battery staple");
  await (await b.$("#unlock")).click();
  await (await b.$("#nav-settings")).waitForClickable();
  await (await b.$("#nav-settings")).click();
  await (await b.$("#calendar-url")).waitForExist();
  await (await b.$("#calendar")).scrollIntoView();
  await shot("1-empty");
  await (await b.$("#calendar-url")).setValue("http://example.com/x.ics");
  await (await b.$("#calendar-preview")).click();
  await b.pause(400);
  await shot("2-http-error");
  await (await b.$("#calendar-url")).clearValue();
  await (await b.$("#calendar-url")).setValue("https://calendar.google.com/calendar/ical/abc/private-xyz/basic.ics");
  await (await b.$("#calendar-preview")).click();
  await (await b.$("#calendar-preview-table")).waitForExist();
  await b.pause(300);
  await (await b.$("#calendar-review")).scrollIntoView();
  await shot("3-preview");
  console.log("focused:", await b.execute(() => document.activeElement?.id));
  await (await b.$("#calendar-apply")).click();
  await b.waitUntil(async () => (await (await b.$("#calendar-result")).getText()).startsWith("Imported"));
  console.log("result:", await (await b.$("#calendar-result")).getText());
  await (await b.$("#calendar")).scrollIntoView();
  await shot("4-applied");
  console.log(await b.execute(() => window.casebookMock.calendarChanges()));
  await (await b.$("#nav-today")).click();
  await (await b.$("#calendar-banner-review")).waitForExist();
  await b.pause(300);
  await shot("5-banner");
  await (await b.$("#calendar-banner-review")).click();
  await (await b.$("#calendar-preview-table")).waitForExist();
  await b.pause(400);
  console.log("focused:", await b.execute(() => document.activeElement?.id));
  await shot("6-review");
  await (await b.$("#calendar-unchanged summary")).click();
  await (await b.$("#calendar-review")).scrollIntoView();
  await shot("7-unchanged-open");
  await (await b.$("#calendar-disconnect")).click();
  await b.pause(300);
  await shot("8-disconnect");
} finally {
  await b.deleteSession();
}
