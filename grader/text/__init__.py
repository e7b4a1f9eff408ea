"""Text from and about hand-ins, shared by every step of the pipeline; imports nothing else of the grader.

* `files`: reading a hand-in's text files as Jupyter does (UTF-8, with or without a byte-order mark), one clear
  error for any other encoding.
* `safe`: text from hand-ins made safe to store (SQLite, JSON) and to show (spreadsheets, pages).
* `paths`: paths in messages as the hand-in knows them (`data.csv`), never the server's.
* `pdf_warnings`: pypdf's warnings collected per thread, so they are said with the hand-in and file.
"""
