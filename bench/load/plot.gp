# plot.gp: bench/load/run.sh's results.png, grouped bars of server CPU µs per request.
#   gnuplot -e "datafile='plot.dat'; outfile='results.png'; nservers=4; subtitle='...'" \
#           -e "colors='#1f77b4 #ff7f0e #2ca02c #7f7f7f'" plot.gp
# plot.dat (written by run.sh): a header line, then one line per scenario: its label, then per
# server the median, min and max µs/request (NaN when not run). colors: one per server, in the
# order of plot.dat (run.sh gives each server its own: floor, the io_uring floor, is grey).
if (!exists("subtitle")) subtitle = ""
if (!exists("colors")) colors = "#1f77b4 #ff7f0e #2ca02c #7f7f7f #9467bd"
set terminal pngcairo size 820,460 font "sans,10" noenhanced
set output outfile
set title "Server CPU per request (lower is better)\n" . subtitle
set ylabel "server CPU µs / request (utime+stime, all threads)"
set style data histogram
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics lc rgb "#dddddd"
set key below center horizontal autotitle columnheader # clear of the bars and their labels
set xtics nomirror
set ytics nomirror
set border 3
set datafile separator tab
set datafile missing "NaN"
gap = 1.5
set style histogram errorbars gap 1.5 lw 1.2 # = gap
# bar i of cluster j (0-based) is centred at j + (i - (n + 1) / 2) / (n + gap)
xbar(i) = column(0) + (i - (nservers + 1) / 2.0) / (nservers + gap)
plot for [i=1:nservers] datafile using (column(3*i-1)):(column(3*i)):(column(3*i+1)):xtic(1) \
        title columnheader(3*i-1) lc rgb word(colors, i), \
    for [i=1:nservers] datafile using (xbar(i)):(column(3*i+1)):(sprintf("%.1f", column(3*i-1))) \
        with labels offset 0,0.8 font "sans,9" notitle
