"""A DataTable whose auto-width columns always show their measured width, and whose Enter on
no rows is left to the screen (which says there is nothing to open)."""

from __future__ import annotations

from textual import events
from textual.actions import SkipAction
from textual.widgets import DataTable


class MeasuredTable(DataTable):
    """``DataTable`` with a fix for stale rows (Textual 8.2.8): rows painted between ``add_row``
    and the table's next idle moment are cached at the columns' old widths, and measuring the new
    rows on idle does not drop that cache, so a page loaded by a worker can stay drawn with its
    columns cut to the width of their labels. Once the new rows are measured, drop the cache."""

    def on_idle(self, event: events.Idle) -> None:
        # Textual calls this before DataTable's own idle handler, which measures the new rows;
        # call_later runs after it
        if self._require_update_dimensions:
            self.call_later(self._redraw)

    def _redraw(self) -> None:
        self._clear_caches()
        self.refresh()

    def action_select_cursor(self) -> None:
        if not self.row_count:
            raise SkipAction()  # no row to select: the screen's own Enter binding runs
        super().action_select_cursor()
