#!/bin/sh
# nugget-cli must run where no GUI library is installed: the libraries it loads
# (ldd: direct and indirect) include none of Qt's GUI ones nor the workbench's.
set -e
program="$1"
libraries=$(ldd "$program")   # fails for a missing or static program
# The check must see the libraries at all: Qt Core is always among them.
echo "$libraries" | grep -q 'libQt6Core' || { echo "ldd $program lists no libQt6Core:"; echo "$libraries"; exit 1; }
gui=$(echo "$libraries" | grep -E 'Qt6Gui|Qt6Widgets|Qt6PrintSupport|Qt6Svg|nugget_widgets|nugget_workbench|nugget_window' || true)
if [ -n "$gui" ]; then
    echo "$program loads GUI libraries:"
    echo "$gui"
    exit 1
fi
echo "$program loads no GUI library"
