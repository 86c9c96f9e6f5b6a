"""``make bench``: the bid path measured against the raw components underneath, in one run."""
