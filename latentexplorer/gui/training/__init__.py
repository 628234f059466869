"""The Training tab: the form, the run in its worker thread, the live loss plot; linear fits and sweeps."""
