"""The handheld terminal UI (``chemtrace scan tui``), built on Textual.

Three screens, switched with F1/F2/F3 (or 1/2/3 where no input has the focus):

* **handoff**: scan, pick the event type, fill the required fields, confirm, sign into the
  outbox (:mod:`.handoff`, with the forms derived from :mod:`ledger.events` in
  :mod:`.forms` and drawn by :mod:`.fields`);
* **outbox**: counts, waiting events, sync, and conflicts resolved with consent
  (:mod:`.outbox`, asking through :mod:`.dialogs`);
* **verify**: the inspector's scan-to-verdict with the custody timeline (:mod:`.verify`).

The screens only draw and ask (with the pieces in :mod:`.common`); :mod:`.actions` calls the
device and inspector APIs.
"""

from scanners.tui.app import HandheldApp

__all__ = ["HandheldApp"]
