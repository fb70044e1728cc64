// 403 page: says the page is not allowed and links the pages this role may open.

import { mountHeader, pageLinks } from "./header.js";
import { onLangChange, t } from "./i18n.js";
import { h } from "./util.js";

async function init() {
  const me = await mountHeader("forbidden");
  const render = () => {
    const list = document.getElementById("allowed-pages");
    const pages = (me && me.pages) || [];
    list.replaceChildren(...pageLinks(pages, null).map((a) => h("li", {}, a)));
    document.getElementById("allowed-intro").textContent = pages.length ? t("forbidden.allowed") : t("forbidden.none");
  };
  render();
  onLangChange(render);
}

init();
