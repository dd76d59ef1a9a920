"""Reading CRM exports into the customer record.

`readers` turns a file (CSV in any of the encodings CRMs write, or XLSX) into header +
rows; `layouts` places the columns; `normalize` turns one row into our fields (the one
function every import door shares); `merge` writes accepted rows set-wise.
"""

from config.services import ServiceError


class ImportFileError(ServiceError):
    """The file as a whole cannot be imported; the message says why, for the person uploading."""
