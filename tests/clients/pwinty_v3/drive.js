// Drives the published @mathieudutour/pwinty client, unmodified, through a whole order and prints
// what each call returned (or the error it threw) as one JSON document on stdout.
// The client's compiled code calls `require("fetch-ponyfill").default(...)`, which only bundlers
// provide (their CommonJS interop); no fetch-ponyfill 6.x has a `default` under plain node. Give
// it what a bundler would, without touching the client (docs/decisions.md).
const ponyfill = require("fetch-ponyfill");
if (typeof ponyfill.default !== "function") ponyfill.default = ponyfill;
const Pwinty = require("@mathieudutour/pwinty").default;

const pwinty = new Pwinty({
  baseApiEndpoint: process.env.PRINTWORK_URL,
  merchantId: process.env.PWINTY_MERCHANT_ID,
  apiKey: process.env.PWINTY_API_KEY,
});
const imageUrl = process.env.IMAGE_URL;

async function attempt(promise) {
  try {
    return { ok: await promise };
  } catch (error) {
    return { error: String(error.message || error) };
  }
}

(async () => {
  const out = {};
  out.create = await attempt(pwinty.orders.create({
    merchantOrderId: "npm-1", recipientName: "Ann Smith", address1: "1 High St", addressTownOrCity: "London",
    postalOrZipCode: "W1A 1AA", countryCode: "GB", preferredShippingMethod: "Standard",
  }));
  const id = out.create.ok && out.create.ok.data.id;
  out.get = await attempt(pwinty.orders.get(id));
  out.update = await attempt(pwinty.orders.update(id, { ...out.get.ok.data, recipientName: "Ann Jones" }));
  out.addImage = await attempt(pwinty.orders.addImage(id, {
    sku: "GLOBAL-PHO-4X6", url: imageUrl, copies: 1, sizing: "Crop", attributes: {} }));
  out.addImages = await attempt(pwinty.orders.addImages(id, [
    { sku: "GLOBAL-PHO-4X6", url: imageUrl, copies: 2, sizing: "ShrinkToFit", attributes: {} }]));
  out.validate = await attempt(pwinty.orders.validate(id));
  out.submit = await attempt(pwinty.orders.submit(id));
  out.submitted = await attempt(pwinty.orders.get(id));
  out.list = await attempt(pwinty.orders.list({ limit: 10 }));
  out.countries = await attempt(pwinty.countries.list());
  out.prices = await attempt(pwinty.catalogue.prices("GB", ["GLOBAL-PHO-4X6"]));
  out.cancel = await attempt(pwinty.orders.cancel(id));
  out.cancelAgain = await attempt(pwinty.orders.cancel(id));
  out.missing = await attempt(pwinty.orders.get(999999));
  out.badCreate = await attempt(pwinty.orders.create({ recipientName: "No Country", preferredShippingMethod: "Budget" }));
  process.stdout.write(JSON.stringify(out));
})();
