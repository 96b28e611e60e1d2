// Site-wide behaviour shared by the pages; each widget brings its own module.
"use strict";
