"""What the browser tests share besides fixtures: a person's tab (`Visit`) with the checks every page
owes, the four ways a page is visited, and the console's texts in either language."""
from __future__ import annotations

from dataclasses import dataclass, field

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from api import i18n

AXE = Axe()

# The four ways a page is visited: (phone?, locale).
MATRIX = [(False, "zh-CN"), (False, "en"), (True, "zh-CN"), (True, "en")]
MATRIX_IDS = ["desktop-zh", "desktop-en", "phone-zh", "phone-en"]
# A word of the navigation in each language, and the other language's, which must not be there.
NAV_WORD = {"zh-CN": "订单", "en": "Orders"}
TOUCH = 44  # px: the least height of a touch target on a phone

# What a person taps: the header's links and buttons, and the controls of the forms and button links
# of the page (not the links inside a text or a table, nor checkboxes, whose label is the target).
_SMALL_TARGETS = """(least) => {
  const toggle = document.getElementById("menu-toggle");
  const was = toggle ? toggle.checked : false;
  if (toggle) toggle.checked = true;  // the folded menu, opened
  const selector = "header a, header button, header label.menu-button, main form button, main a.button, " +
    "main .tabs a, main form a, main form select, main form textarea, " +
    "main form input:not([type=hidden]):not([type=checkbox]):not([type=radio])";
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not shown
    if (box.height < least) small.push(`${el.outerHTML.slice(0, 90)}: ${box.height.toFixed(1)} px`);
  }
  if (toggle) toggle.checked = was;
  return small;
}"""


@dataclass
class Visit:
    """A person's browser tab: the page, and the errors its scripts reported."""
    page: Page
    base: str
    phone: bool = False
    locale: str = "zh-CN"
    audit: bool = False  # also run axe-core on every page checked
    errors: list[str] = field(default_factory=list)

    def go(self, path: str):
        return self.page.goto(self.base + path)

    def fits(self) -> bool:
        """No horizontal scrolling: the page is no wider than the screen."""
        return self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    def overflow(self) -> list[str]:
        """The elements wider than the screen (to name the culprit when `fits()` fails)."""
        return self.page.evaluate("""() => [...document.querySelectorAll("main *")]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .filter(e => !e.closest(".table-scroll, .scroll, .source-wrap"))
            .slice(0, 5).map(e => e.outerHTML.slice(0, 120))""")

    def small_targets(self) -> list[str]:
        """Controls lower than a fingertip (44 px)."""
        return self.page.evaluate(_SMALL_TARGETS, TOUCH)

    def text(self) -> str:
        return self.page.locator("main").inner_text()

    def check(self, path: str | None = None) -> None:
        """Open `path` (or take the page as it is) and assert what every page owes: it loaded, it
        speaks the visit's language (`<html lang>`, the navigation), no script or policy error, on a
        phone no sideways scrolling and fingertip-sized controls, and when auditing no serious or
        critical accessibility problem."""
        where = path or self.page.url.removeprefix(self.base)
        if path is not None:
            response = self.go(path)
            assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        assert self.page.evaluate("document.documentElement.lang") == self.locale, where
        nav = self.page.locator("header nav").text_content() or ""
        other = next(w for loc, w in NAV_WORD.items() if loc != self.locale)
        assert NAV_WORD[self.locale] in nav and other not in nav, f"{where}: navigation in the wrong language: {nav}"
        assert self.errors == [], f"{where}: {self.errors}"
        if self.phone:
            assert self.fits(), f"{where} scrolls sideways on a phone: {self.overflow()}"
            small = self.small_targets()
            assert small == [], f"{where}: controls under {TOUCH} px on a phone: {small}"
        if self.audit:
            problems = serious(self.page)
            assert problems == [], f"{where}: {problems}"


def serious(page: Page) -> list[str]:
    """The serious and critical problems axe-core finds on the page, each with the elements it names."""
    found = AXE.run(page).response["violations"]
    return [f"{x['id']} ({x['impact']}): {x['help']} — " + "; ".join(n["html"][:100] for n in x["nodes"][:3])
            for x in found if x["impact"] in ("serious", "critical")]


def each_way(visit, username: str):
    """The person's tab in each of the four ways (desktop and phone, zh-CN and English), logged in;
    on the desktop in Chinese every page is audited with axe-core too."""
    for phone, locale in MATRIX:
        v = visit(username, phone=phone, locale=locale)
        v.audit = not phone and locale == "zh-CN"
        yield v
        v.page.context.close()


def zh(message: str) -> str:
    """A console text as the Chinese catalog has it."""
    return i18n.translations("zh_CN").gettext(message)


def say(v: Visit, message: str) -> str:
    """A console text in the visit's language."""
    return zh(message) if v.locale == "zh-CN" else message


def submit(v: Visit, form: str, done, button: str = "button[type=submit]") -> None:
    """Send the form `form` (a selector) with its button and wait for the page that follows, until
    `done()` holds: a confirmation step (a page or a form asking "are you sure?") is answered by
    ticking what it requires and sending again."""
    for _ in range(3):
        for box in v.page.locator(f"{form} input[type=checkbox][required]").all():
            box.check()  # the confirmation the form itself asks for ("I have checked the figures")
        with v.page.expect_navigation():
            v.page.locator(f"{form} {button}").first.click()
        if done():
            return
        for box in v.page.locator("main form input[type=checkbox][required]").all():
            box.check()
    raise AssertionError(f"{form} was sent and confirmed, and still not done")
