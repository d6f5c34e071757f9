"""evalkit's plot theme as plain matplotlib settings: seaborn's whitegrid style, notebook context and
colour-blind palette, plus evalkit's own settings.

Stored here so that report kernels do not import seaborn (about 1 s each) just to set a theme;
``tests/test_plots.py`` checks that these values equal what ``seaborn.set_theme`` produces, so
they cannot drift from seaborn. Regenerate with ``python -m evalkit.report._theme`` after a seaborn upgrade
changes them.
"""

#: seaborn's "colorblind" palette (``seaborn.color_palette("colorblind")``).
COLORBLIND = [(0.00392156862745098, 0.45098039215686275, 0.6980392156862745),
 (0.8705882352941177, 0.5607843137254902, 0.0196078431372549),
 (0.00784313725490196, 0.6196078431372549, 0.45098039215686275),
 (0.8352941176470589, 0.3686274509803922, 0.0),
 (0.8, 0.47058823529411764, 0.7372549019607844),
 (0.792156862745098, 0.5686274509803921, 0.3803921568627451),
 (0.984313725490196, 0.6862745098039216, 0.8941176470588236),
 (0.5803921568627451, 0.5803921568627451, 0.5803921568627451),
 (0.9254901960784314, 0.8823529411764706, 0.2),
 (0.33725490196078434, 0.7058823529411765, 0.9137254901960784)]

#: rcParams that ``evalkit.report.plots.set_theme()`` (defaults) changes, minus the colour cycle and
#: ``image.cmap`` (seaborn's "rocket" map exists only once seaborn is imported; evalkit draws no images).
THEME_RC = {'axes.axisbelow': True,
 'axes.edgecolor': '.8',
 'axes.grid': True,
 'axes.labelcolor': '.15',
 'axes.labelsize': 13.200000000000001,
 'axes.linewidth': 1.25,
 'axes.spines.right': False,
 'axes.spines.top': False,
 'axes.titlelocation': 'left',
 'axes.titlesize': 13.200000000000001,
 'axes.titleweight': 'bold',
 'figure.dpi': 90.0,
 'font.sans-serif': ['Arial',
                     'DejaVu Sans',
                     'Liberation Sans',
                     'Bitstream Vera Sans',
                     'sans-serif'],
 'font.size': 13.200000000000001,
 'grid.color': '.8',
 'grid.linewidth': 1.0,
 'legend.fontsize': 12.100000000000001,
 'legend.frameon': False,
 'legend.title_fontsize': 13.200000000000001,
 'lines.solid_capstyle': 'round',
 'patch.edgecolor': 'w',
 'patch.force_edgecolor': True,
 'savefig.bbox': 'tight',
 'savefig.dpi': 200.0,
 'text.color': '.15',
 'xtick.bottom': False,
 'xtick.color': '.15',
 'xtick.labelsize': 12.100000000000001,
 'xtick.major.size': 6.0,
 'xtick.major.width': 1.25,
 'xtick.minor.size': 4.0,
 'xtick.minor.width': 1.0,
 'ytick.color': '.15',
 'ytick.labelsize': 12.100000000000001,
 'ytick.left': False,
 'ytick.major.size': 6.0,
 'ytick.major.width': 1.25,
 'ytick.minor.size': 4.0,
 'ytick.minor.width': 1.0}


def _generate():  # pragma: no cover - maintenance helper
    import pprint

    import matplotlib as mpl

    from evalkit.report.plots import _seaborn_theme

    with mpl.rc_context():
        before = dict(mpl.rcParams)
        _seaborn_theme()
        after = dict(mpl.rcParams)
    diff = {k: v if isinstance(v, (str, float, int, bool, list)) else str(v)
            for k, v in after.items() if before.get(k) != v}
    colours = diff.pop("axes.prop_cycle").by_key()["color"]
    diff.pop("image.cmap", None)
    print("COLORBLIND =", pprint.pformat(colours))
    print("THEME_RC =", pprint.pformat(diff, width=100))


if __name__ == "__main__":  # pragma: no cover
    _generate()
