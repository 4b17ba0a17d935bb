"""The terminal UI (Textual): ``callqa tui``. See ``callqa.tui.app``."""
