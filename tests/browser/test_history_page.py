"""Finance's page of order history from the ERP in the browser: the form with its dry run, the recent
imports with what they found, and the columns with an example, on a desktop and a phone, in Chinese
and English (audited with axe-core on the desktop in Chinese)."""
from __future__ import annotations

from ..test_history_import import history_csv, post_file, refs
from .browsing import each_way, say


def test_finance_reads_the_history_page_each_way(client, visit, make_dealer, make_user, product):
    dealer, finance = make_dealer(), make_user("finance")
    assert post_file(client, finance, history_csv(dealer.dealer.code, product.sku, refs()).encode(),
                     dry_run=True).status_code == 201
    for v in each_way(visit, finance.user.username):
        v.check("/console/imports/history")
        assert say(v, "Recent imports") in v.page.text_content("main")
        assert v.page.locator("main input[name=dry_run]").count() == 1
