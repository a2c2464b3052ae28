from amtspuls.cli import main

main()
