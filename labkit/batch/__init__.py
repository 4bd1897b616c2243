"""Running the workbook in batch: the notebooks, their parameters, papermill runs, the report."""
