"""The Textual dashboard: widgets over the membership model, fed by the channel worker."""
