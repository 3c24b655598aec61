"""sealsim: run the unmodified sealscan firmware on the MicroPython unix port."""
