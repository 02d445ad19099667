"""Exports in OpenREM 0.8.1's layout: CSV, XLSX and the NHSBSP mammography CSV.

Medical physicists keep spreadsheets and scripts built on OpenREM's export columns (feature
inventory part 2 §5.4), so the headers and their order are OpenREM's. The modules here know
neither Flask nor Orthanc: ``columns`` names the columns, ``study_header`` and the per-modality
layouts (``ct_layout``, ``projection_layout``, ``fluoro_layout``) read rows in batches of study
ids, ``csv_file``, ``xlsx_file`` and ``nhsbsp`` write them, and ``runner`` streams one export from
a selection of studies to a file with progress and abort.
"""
